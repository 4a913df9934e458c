"""One event through a service: route by type, validate, handle, publish what it changed.

The same path serves Kafka records (`consuming.py`) and fired timers (`timers.py`), so both
get the same validation, metrics and log line. Invalid data, a broken rule or an unknown
type on the service's own intake yields `<service>.command_rejected`; unknown types on
other services' topics are ignored.
"""

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import structlog
from pydantic import ValidationError

from shared._kit.clock import Clock
from shared._kit.context import Applied, Context
from shared._kit.envelope import CloudEvent, derive_id, identity_key
from shared._kit.messages import CommandRejected, Message, Rejected
from shared._kit.metrics import PlatformMetrics
from shared._kit.timers import Timers

log = structlog.get_logger("station.pipeline")

REJECTED: Final = "command_rejected"
UNKNOWN_TYPE_LABEL: Final = "unknown"

Handler = Callable[[Any, Context], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    model: type[Message]
    handler: Handler


class Outlet(Protocol):
    """Where a service's events go: Kafka in a running service, a list in a scenario."""

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None: ...

    async def publish_applied(self, topic: str, applied: Sequence[Applied[Any]]) -> None: ...


def event_fields(event: CloudEvent) -> dict[str, object]:
    """The fields every log line about one event carries."""
    return {
        "event_id": event.id,
        "event_type": event.type,
        "subject": event.subject,
        "correlation_id": event.correlationid,
        "causation_id": event.causationid,
    }


def validation_errors(exc: ValidationError) -> list[str]:
    """`field.path: message` for each error, as `command_rejected.errors` lists them."""
    return [f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors()]


@dataclass
class Pipeline:
    """Handles events for one service; publishes to its events topic."""

    service: str
    source: str
    events_topic: str
    outlet: Outlet
    metrics: PlatformMetrics
    clock: Clock
    timers: Timers

    async def process(
        self,
        event: CloudEvent,
        routes: Mapping[str, Route],
        *,
        commands: bool,
        where: Mapping[str, object],
    ) -> None:
        """Handle one event to the end: effects stored and their events published.

        `commands` is True on the service's own intake: there, what cannot be handled is
        refused with `command_rejected`; elsewhere an unknown type is none of its business.
        """
        started = time.perf_counter()
        route = routes.get(event.type)
        if route is None:
            if commands:
                reason = f"{event.type} is not a command of {self.service}"
                await self.reject(event, "unknown_command_type", [reason], label=None)
            else:
                log.debug("event_ignored", **where, **event_fields(event))
            return
        try:
            payload = route.model.model_validate(event.data or {})
        except ValidationError as exc:
            await self.refuse(event, "invalid_data", validation_errors(exc), commands=commands)
            return
        ctx = Context.of(event, source=self.source, clock=self.clock, timers=self.timers)
        try:
            await route.handler(payload, ctx)
        except Rejected as refusal:
            await self.refuse(event, refusal.reason, refusal.errors, commands=commands)
            return
        await self.outlet.publish_applied(self.events_topic, ctx.applied)
        self.metrics.received.labels(self.service, event.type).inc()
        log.info(
            "event_received",
            **where,
            duplicate=ctx.duplicate,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            **event_fields(event),
        )

    def timer_delivery(
        self, routes: Mapping[str, Route]
    ) -> Callable[[CloudEvent], Awaitable[None]]:
        """Fired timers go through the same path as records (validation, metrics, log line)."""

        async def deliver(event: CloudEvent) -> None:
            await self.process(event, routes, commands=False, where={"timer_id": event.causationid})

        return deliver

    async def refuse(
        self, event: CloudEvent, reason: str, errors: Sequence[str], *, commands: bool
    ) -> None:
        """A command is answered with command_rejected; a fact or timer is only logged."""
        if commands:
            await self.reject(event, reason, errors, label=event.type)
        else:
            self.metrics.received.labels(self.service, event.type).inc()
            log.info("event_moot", reason=reason, errors=list(errors), **event_fields(event))

    async def reject(
        self, event: CloudEvent, reason: str, errors: Sequence[str], *, label: str | None
    ) -> None:
        data = CommandRejected(
            command_id=event.id, command_type=event.type, reason=reason, errors=list(errors)
        )
        rejection = CloudEvent(
            id=derive_id(identity_key(event.source, event.id), REJECTED),
            source=self.source,
            type=f"{self.service}.{REJECTED}",
            subject=event.subject or event.id,
            time=self.clock.now(),
            correlationid=event.correlation,
            causationid=event.id,
            data=data.model_dump(mode="json"),
        )
        await self.outlet.publish(self.events_topic, [rejection])
        # label values come from the routes, never from the wire: made-up types share one
        self.metrics.rejected.labels(self.service, label or UNKNOWN_TYPE_LABEL).inc()
        log.info(REJECTED, reason=reason, errors=list(errors), **event_fields(event))
