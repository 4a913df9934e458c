"""One event through a service: route by type, validate, handle, publish what it changed.

The same path serves Kafka records (`consuming.py`) and fired timers (`timers.py`), so both
get the same validation, metrics and log line. Invalid data, a broken rule or an unknown
type on the service's own intake yields `<service>.command_rejected`; unknown types on
other services' topics are ignored. A command whose `source` claims a service's voice
(`/services/…`) is refused as `forged_source`: commands come from `/intake/<who>`.
Whatever a payload model raises while validating is a refusal, never a failure to retry.
"""

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import structlog
from pydantic import ValidationError

from shared._kit.clock import Clock
from shared._kit.context import Applied, Context
from shared._kit.dedupe import Finished, Processed
from shared._kit.envelope import SERVICE_SOURCE, CloudEvent
from shared._kit.handled import Handled, finished_records
from shared._kit.logging import lines_together
from shared._kit.loops import both
from shared._kit.marking import published_later
from shared._kit.messages import CommandRejected, Message, Rejected, TimerFailed
from shared._kit.metrics import PlatformMetrics
from shared._kit.timers import Timers
from shared._kit.unit import CURRENT_UNIT, Conflict, Unit

log = structlog.get_logger("station.pipeline")

REJECTED: Final = "command_rejected"
FORGED_SOURCE: Final = "forged_source"
INVALID_DATA: Final = "invalid_data"
# a command_rejected names at most this many errors, each at most this long: a list of
# 10,000 bad items must not make a refusal too large to publish
MAX_ERRORS: Final = 20
MAX_ERROR_CHARS: Final = 300
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
    """`field.path: message` for each error, as `command_rejected.errors` lists them (the
    first MAX_ERRORS, and how many more)."""
    errors = exc.errors()
    found = [
        f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}"[:MAX_ERROR_CHARS]
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        found.append(f"… and {len(errors) - MAX_ERRORS} more")
    return found


NOT_LOOKED_UP: Final = object()


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
    # told after each unit of work is written (the figures of /stats are due again)
    written: Callable[[], None] = lambda: None

    def unit(self) -> Unit:
        """A unit of work whose steps written at once are published at once."""
        unit = Unit()
        unit.early = self._publish_early
        return unit

    async def _publish_early(self, unit: Unit, applied: list[Applied[Any]]) -> None:
        events = [e for a in applied for e in a.events if e.id not in unit.published]
        await self.outlet.publish(self.events_topic, events)
        unit.published.update(e.id for e in events)

    async def process(
        self,
        event: CloudEvent,
        routes: Mapping[str, Route],
        *,
        commands: bool,
        where: Mapping[str, object],
    ) -> None:
        """Handle one event to the end, as a unit of its own: effects stored, events published.

        `commands` is True on the service's own intake: there, what cannot be handled is
        refused with `command_rejected`; elsewhere an unknown type is none of its business.
        A message finished before (same source and id, within the dedupe window) changes
        nothing: what it answered is published again, nothing is decided again.
        """
        while True:
            unit = self.unit()
            handled = await self.handle(event, routes, commands=commands, where=where, unit=unit)
            try:
                await self.complete(unit, [handled])
            except Conflict:
                continue  # an aggregate changed since it was read: decide again on it
            return

    async def handle(
        self,
        event: CloudEvent,
        routes: Mapping[str, Route],
        *,
        commands: bool,
        where: Mapping[str, object],
        unit: Unit,
        finished: object = NOT_LOOKED_UP,
    ) -> Handled:
        """Run one event's handler within `unit`; nothing is written or published yet."""
        ctx = Context.of(event, source=self.source, clock=self.clock, timers=self.timers, unit=unit)
        route = routes.get(event.type)
        label = event.type if route is not None else UNKNOWN_TYPE_LABEL
        handled = Handled(event, where, time.perf_counter(), label, ctx.key)
        forged = commands and event.source.startswith(SERVICE_SOURCE)
        if route is None or forged:
            # nothing to look up: ignored, or refused the same way whenever it comes again
            if forged:
                reason = f"a command from {event.source}: commands come from /intake/<who>"
                self.refuse(ctx, handled, FORGED_SOURCE, [reason], commands=True)
                handled.record = None
            elif commands:
                reason = f"{event.type} is not a command of {self.service}"
                self.refuse(ctx, handled, "unknown_command_type", [reason], commands=True)
                handled.record = None
            else:
                handled.logged = "event_ignored"
            return handled
        if finished is NOT_LOOKED_UP:
            finished = await self.processed.seen(ctx.key)
        if isinstance(finished, Finished):
            handled.events, handled.duplicate = list(finished.events), True
            return handled
        try:
            payload = route.model.model_validate(event.data or {})
        except ValidationError as exc:
            self.refuse(ctx, handled, INVALID_DATA, validation_errors(exc), commands=commands)
            return handled
        except Exception as exc:  # noqa: BLE001 - a validator's own error: the data is at fault
            error = f"data: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            self.refuse(ctx, handled, INVALID_DATA, [error], commands=commands)
            return handled
        checkpoint = unit.checkpoint()
        token = CURRENT_UNIT.set(unit)
        try:
            await route.handler(payload, ctx)
        except Rejected as refusal:
            unit.rollback(checkpoint)  # a refused message changes nothing
            self.refuse(ctx, handled, refusal.reason, refusal.errors, commands=commands)
            return handled
        finally:
            CURRENT_UNIT.reset(token)
        handled.applied = list(ctx.applied)
        handled.events = [e for a in ctx.applied for e in a.events]
        handled.record = ("applied", [])
        handled.duplicate = ctx.duplicate
        return handled

    async def complete(self, unit: Unit, handled: Sequence[Handled]) -> None:
        """Write the unit (raises Conflict); then remember what finished and publish, side
        by side; then log.

        Both only follow the write: a message remembered as finished before its effects
        were stored would be skipped when redelivered after a crash. They need not follow
        each other: events stored and remembered but not yet published stay in their
        outboxes, which the relay publishes (as it always did after a crash between the
        two); events published but not remembered are published again, with their ids,
        when the message is redelivered. A message whose changes all hold its key in
        their aggregates' inboxes is remembered in the background (`record_later`)."""
        await unit.write()
        # (whatever the unit held: a step may have written at once, outside of it)
        self.written()
        now, later = finished_records(handled)
        await both(self.processed.record_many(now), self._publish_rest(unit, handled))
        self.processed.record_later(later)
        # (marked now, not when published early: marking rewrites a document, and the
        # unit's own writes come first)
        published_later([*unit.published_applied, *(a for h in handled for a in h.applied)])
        with lines_together():
            for h in handled:
                self._log(h)

    async def _publish_rest(self, unit: Unit, handled: Sequence[Handled]) -> None:
        await unit.published_early()
        # a message and its redelivery in one unit answer with the same events: send once;
        # what a step written at once published already is not sent again
        events = list(
            {e.id: e for h in handled for e in h.events if e.id not in unit.published}.values()
        )
        await self.outlet.publish(self.events_topic, events)

    def _log(self, h: Handled) -> None:
        fields = event_fields(h.event)
        if h.logged == "event_ignored":
            log.debug("event_ignored", **h.where, **fields)
            return
        # label values come from the routes, never from the wire: made-up types share one
        if h.refusal is not None and h.rejected:
            reason, errors = h.refusal
            self.metrics.rejected.labels(self.service, h.label).inc()
            log.info(REJECTED, reason=reason, errors=errors, **fields)
            return
        self.metrics.received.labels(self.service, h.label).inc()
        if h.refusal is not None:
            reason, errors = h.refusal
            log.info("event_moot", reason=reason, errors=errors, **fields)
            return
        log.info(
            "event_received",
            **h.where,
            duplicate=h.duplicate,
            latency_ms=round((time.perf_counter() - h.started) * 1000, 2),
            **fields,
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

    def refuse(
        self,
        ctx: Context,
        handled: Handled,
        reason: str,
        errors: Sequence[str],
        *,
        commands: bool,
    ) -> None:
        """A command is answered with command_rejected; a fact or timer is only logged.

        The refusal is recorded (with the unit) before it is published, so a redelivery is
        answered with the same refusal even if the state has changed since.
        """
        handled.refusal = (reason, list(errors))
        handled.applied, handled.events = [], []
        if not commands:
            return
        event = ctx.event
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
        handled.events = [rejection]
        handled.record = ("rejected", [rejection])
        handled.rejected = True
