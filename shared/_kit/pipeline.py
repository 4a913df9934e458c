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
from shared._kit.dedupe import Processed
from shared._kit.envelope import CloudEvent
from shared._kit.messages import CommandRejected, Message, Rejected, TimerFailed
from shared._kit.metrics import PlatformMetrics
from shared._kit.timers import Timers

log = structlog.get_logger("station.pipeline")

REJECTED: Final = "command_rejected"
TIMER_FAILED: Final = "timer_failed"
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
    processed: Processed

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
        A message finished before (same source and id, within the dedupe window) changes
        nothing: what it answered is published again, nothing is decided again.
        """
        started = time.perf_counter()
        ctx = Context.of(event, source=self.source, clock=self.clock, timers=self.timers)
        finished = await self.processed.seen(ctx.key)
        route = routes.get(event.type)
        label = event.type if route is not None else UNKNOWN_TYPE_LABEL
        if finished is not None:
            await self.outlet.publish(self.events_topic, finished.events)
            self._received(event, label, where, started, duplicate=True)
            return
        if route is None:
            if commands:
                reason = f"{event.type} is not a command of {self.service}"
                await self.refuse(ctx, "unknown_command_type", [reason], commands=True, label=label)
            else:
                log.debug("event_ignored", **where, **event_fields(event))
            return
        try:
            payload = route.model.model_validate(event.data or {})
        except ValidationError as exc:
            errors = validation_errors(exc)
            await self.refuse(ctx, "invalid_data", errors, commands=commands, label=label)
            return
        try:
            await route.handler(payload, ctx)
        except Rejected as refusal:
            await self.refuse(ctx, refusal.reason, refusal.errors, commands=commands, label=label)
            return
        await self.outlet.publish_applied(self.events_topic, ctx.applied)
        await self.processed.record(ctx.key, "applied")
        self._received(event, label, where, started, duplicate=ctx.duplicate)

    def _received(
        self,
        event: CloudEvent,
        label: str,
        where: Mapping[str, object],
        started: float,
        *,
        duplicate: bool,
    ) -> None:
        # label values come from the routes, never from the wire: made-up types share one
        self.metrics.received.labels(self.service, label).inc()
        log.info(
            "event_received",
            **where,
            duplicate=duplicate,
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

    async def timer_failed(self, event: CloudEvent, error: str, attempts: int) -> None:
        """A timer's handler kept failing: say so on the events topic, for an operator."""
        data = TimerFailed(
            timer_id=str(event.causationid),
            timer_type=event.type,
            subject=event.subject,
            error=error,
            attempts=attempts,
        )
        ctx = Context.of(event, source=self.source, clock=self.clock, timers=self.timers)
        failed = CloudEvent(
            id=ctx.derive(TIMER_FAILED),
            source=self.source,
            type=f"{self.service}.{TIMER_FAILED}",
            subject=event.subject or str(event.causationid),
            time=self.clock.now(),
            correlationid=event.correlation,
            causationid=event.id,
            data=data.model_dump(mode="json"),
        )
        await self.outlet.publish(self.events_topic, [failed])
        self.metrics.dead_lettered.labels(self.service, "timers", TIMER_FAILED).inc()

    async def refuse(
        self,
        ctx: Context,
        reason: str,
        errors: Sequence[str],
        *,
        commands: bool,
        label: str,
    ) -> None:
        """A command is answered with command_rejected; a fact or timer is only logged.

        The refusal is recorded before it is published, so a redelivery is answered with
        the same refusal even if the state has changed since.
        """
        event = ctx.event
        if not commands:
            self.metrics.received.labels(self.service, label).inc()
            log.info("event_moot", reason=reason, errors=list(errors), **event_fields(event))
            return
        data = CommandRejected(
            command_id=event.id, command_type=event.type, reason=reason, errors=list(errors)
        )
        rejection = CloudEvent(
            id=ctx.derive(REJECTED),
            source=self.source,
            type=f"{self.service}.{REJECTED}",
            subject=event.subject or event.id,
            time=self.clock.now(),
            correlationid=event.correlation,
            causationid=event.id,
            data=data.model_dump(mode="json"),
        )
        await self.processed.record(ctx.key, "rejected", [rejection])
        await self.outlet.publish(self.events_topic, [rejection])
        self.metrics.rejected.labels(self.service, label).inc()
        log.info(REJECTED, reason=reason, errors=list(errors), **event_fields(event))
