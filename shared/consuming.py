"""Consume with effects exactly once: route, validate, handle, publish, then commit.

A `Router` maps event types to handlers. `Consumer.handle` is what a FastStream
subscriber calls for each Kafka record; it returns only when the record's effects are
durable and its events published, so FastStream commits after it (never before):
- bytes that are not a CloudEvent go to `<topic>.dlq`, byte for byte;
- invalid data, a broken rule or an unknown type on the service's own intake yields
  `<service>.command_rejected`; unknown types on other services' topics are ignored;
- transient failures (MongoDB or Kafka unreachable) are retried with capped exponential
  backoff for as long as they last and never dead-lettered;
- a handler that keeps raising on one record is dead-lettered after `max_attempts`.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError
from pymongo.errors import ConnectionFailure, OperationFailure

from shared.aggregates import Applied
from shared.clock import Clock
from shared.envelope import CloudEvent, NotACloudEventError
from shared.metrics import PlatformMetrics
from shared.publishing import Publisher, event_fields

log = structlog.get_logger("station.consuming")

REJECTED: Final = "command_rejected"


class Rejected(Exception):  # noqa: N818 - a refusal, not an error of the service
    """A command breaks a business rule: nothing changes and the sender is told why."""

    def __init__(self, reason: str, errors: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = list(errors)


Handler = Callable[[Any, CloudEvent], Awaitable[Sequence[Applied]]]


@dataclass(frozen=True)
class Route:
    model: type[BaseModel]
    handler: Handler


class Router:
    """Which handler runs for which event type, with the pydantic model of its data."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def on(self, event_type: str, model: type[BaseModel]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if event_type in self.routes:
                raise ValueError(f"{event_type} already has a handler")
            self.routes[event_type] = Route(model, handler)
            return handler

        return register


def is_transient(exc: BaseException) -> bool:
    """Failures of the infrastructure, not of the message: retry them, never dead-letter."""
    if isinstance(
        exc,
        ConnectionFailure
        | KafkaConnectionError
        | KafkaTimeoutError
        | TimeoutError
        | ConnectionError,
    ):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    # FerretDB answers "internal error" while its backend restarts
    return isinstance(exc, OperationFailure) and exc.code in (1, 6, 89, 91, 189, 11600, 11602)


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.initial_backoff_s * 2.0 ** max(0, attempt - 1))


class Consumer:
    """The per-record pipeline of one service on one topic."""

    def __init__(
        self,
        *,
        service: str,
        topic: str,
        own_intake: bool,
        router: Router,
        publisher: Publisher,
        metrics: PlatformMetrics,
        clock: Clock,
        retry: RetryPolicy,
    ) -> None:
        self.service = service
        self.topic = topic
        self.own_intake = own_intake
        self.router = router
        self.publisher = publisher
        self.metrics = metrics
        self.clock = clock
        self.retry = retry
        self.events_topic = f"{service}.events"

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Process one record until its effects are durable; raises only on cancellation."""
        failures = 0
        transient = 0
        while True:
            try:
                await self._process(record)
            except Exception as exc:  # noqa: BLE001 - classified below: retry or dead-letter
                if is_transient(exc):
                    transient += 1
                    await self._retry_later("transient", record, transient, exc)
                    continue
                failures += 1
                if failures >= self.retry.max_attempts:
                    await self._dead_letter_failing(record, exc)
                    return
                await self._retry_later("handler", record, failures, exc)
            else:
                return

    async def _retry_later(
        self, kind: str, record: ConsumerRecord[bytes, bytes], attempt: int, exc: Exception
    ) -> None:
        self.metrics.retries.labels(self.service, kind).inc()
        log.warning(
            "transient_failure" if kind == "transient" else "handler_failed",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempt=attempt,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        await asyncio.sleep(self.retry.backoff(attempt))

    async def _dead_letter_failing(
        self, record: ConsumerRecord[bytes, bytes], exc: Exception
    ) -> None:
        while True:  # the dead letter itself must get out, whatever Kafka does meanwhile
            try:
                await self.publisher.dead_letter(
                    record, reason="handler_failed", error=f"{type(exc).__name__}: {exc}"
                )
            except Exception as dlq_exc:
                if not is_transient(dlq_exc):
                    raise
                await asyncio.sleep(self.retry.max_backoff_s)
            else:
                return

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        started = time.perf_counter()
        try:
            event = CloudEvent.from_bytes(record.value or b"")
        except NotACloudEventError as exc:
            await self.publisher.dead_letter(record, reason="not_a_cloudevent", error=str(exc))
            return
        route = self.router.routes.get(event.type)
        if route is None:
            if self.own_intake:
                await self._reject(
                    event,
                    "unknown_command_type",
                    [f"{event.type} is not a command of {self.topic}"],
                )
            else:
                log.debug("event_ignored", topic=record.topic, **event_fields(event))
            return
        try:
            payload = route.model.model_validate(event.data or {})
        except ValidationError as exc:
            errors = [f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors()]
            await self._reject(event, "invalid_data", errors)
            return
        try:
            applied = await route.handler(payload, event)
        except Rejected as refusal:
            await self._reject(event, refusal.reason, refusal.errors)
            return
        await self.publisher.publish_applied(self.events_topic, applied)
        self.metrics.received.labels(self.service, event.type).inc()
        log.info(
            "event_received",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            duplicate=any(a.duplicate for a in applied),
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            **event_fields(event),
        )

    async def _reject(self, event: CloudEvent, reason: str, errors: Sequence[str]) -> None:
        rejection = event.caused(
            role=REJECTED,
            type=f"{self.service}.{REJECTED}",
            source=f"/services/{self.service}",
            subject=event.subject or event.id,
            data={
                "command_id": event.id,
                "command_type": event.type,
                "reason": reason,
                "errors": list(errors),
            },
            time=self.clock.now(),
        )
        await self.publisher.publish(self.events_topic, [rejection])
        self.metrics.rejected.labels(self.service, event.type).inc()
        log.info(REJECTED, reason=reason, errors=list(errors), **event_fields(event))
