"""Consume with effects exactly once: parse, run the pipeline, then let FastStream commit.

`Consumer.handle` is what a FastStream subscriber calls for each Kafka record; it returns
only when the record's effects are durable and its events published, so FastStream
commits after it (never before):
- bytes that are not a CloudEvent go to `<topic>.dlq`, byte for byte;
- transient failures (MongoDB or Kafka unreachable) are retried with capped exponential
  backoff for as long as they last and never dead-lettered;
- a handler that keeps raising on one record is dead-lettered after `max_attempts`.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from aiokafka.structs import ConsumerRecord

from shared._kit.envelope import CloudEvent, NotACloudEventError
from shared._kit.metrics import PlatformMetrics
from shared._kit.pipeline import Pipeline, Route

log = structlog.get_logger("station.consuming")


class DeadLetters(Protocol):
    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str
    ) -> None: ...


@dataclass
class RetryPolicy:
    transient: Callable[[BaseException], bool]
    max_attempts: int = 5
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.initial_backoff_s * 2.0 ** max(0, attempt - 1))


@dataclass
class Consumer:
    """The per-record path of one service on one topic."""

    pipeline: Pipeline
    topic: str
    routes: Mapping[str, Route]
    commands: bool
    dead_letters: DeadLetters
    metrics: PlatformMetrics
    retry: RetryPolicy
    # the record in hand and since when (monotonic seconds), for /readyz and a gauge
    busy: tuple[int, int, float] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.metrics.busy_seconds.labels(self.service, self.topic).set_function(
            lambda: self.busy_seconds
        )

    @property
    def service(self) -> str:
        return self.pipeline.service

    @property
    def busy_seconds(self) -> float:
        return 0.0 if self.busy is None else time.monotonic() - self.busy[2]

    def stuck(self, after_s: float) -> dict[str, object] | None:
        """The record this consumer has been busy with for longer than `after_s`, if any."""
        if self.busy is None or self.busy_seconds <= after_s:
            return None
        partition, offset, _ = self.busy
        return {
            "topic": self.topic,
            "partition": partition,
            "offset": offset,
            "seconds": round(self.busy_seconds, 1),
        }

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Process one record until its effects are durable; raises only on cancellation."""
        self.busy = (record.partition, record.offset, time.monotonic())
        try:
            await self._handle(record)
        finally:
            self.busy = None

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        failures = 0
        transient = 0
        while True:
            try:
                await self._process(record)
            except Exception as exc:  # noqa: BLE001 - classified below: retry or dead-letter
                if self.retry.transient(exc):
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

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = CloudEvent.from_bytes(record.value or b"")
        except NotACloudEventError as exc:
            await self.dead_letters.dead_letter(record, reason="not_a_cloudevent", error=str(exc))
            return
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        await self.pipeline.process(event, self.routes, commands=self.commands, where=where)

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
                await self.dead_letters.dead_letter(
                    record, reason="handler_failed", error=f"{type(exc).__name__}: {exc}"
                )
            except Exception as dlq_exc:  # noqa: BLE001 - an outage waits, the rest is logged
                if not self.retry.transient(dlq_exc):
                    # never block the partition: the log line keeps the coordinates
                    log.error(
                        "undeliverable",
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        error=f"{type(exc).__name__}: {exc}"[:500],
                        dlq_error=f"{type(dlq_exc).__name__}: {dlq_exc}"[:500],
                    )
                    return
                await asyncio.sleep(self.retry.max_backoff_s)
            else:
                return
