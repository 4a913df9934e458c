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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from aiokafka.structs import ConsumerRecord

from shared._kit.envelope import CloudEvent, NotACloudEventError, identity_key
from shared._kit.metrics import PlatformMetrics
from shared._kit.pipeline import Pipeline, Route
from shared._kit.unit import Conflict

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
    """The path of one service's records on one topic, a batch at a time.

    A batch (what one `getmany` gave) is split by partition and the partitions are handled
    side by side; order only matters within a partition (a key always lands in one). A
    partition's records run as one unit of work: every aggregate they change is written
    once, in bulk, their events are published together, and what they finished is
    recorded in one write. If the unit meets a conflict or any failure, the partition's
    records are handled again one by one, each with its own retries and dead letter, so
    one bad record never fails its batch.
    """

    pipeline: Pipeline
    topic: str
    routes: Mapping[str, Route]
    commands: bool
    dead_letters: DeadLetters
    metrics: PlatformMetrics
    retry: RetryPolicy
    # per partition: the record in hand and since when (monotonic), for /readyz and a gauge
    busy: dict[int, tuple[int, float]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.metrics.busy_seconds.labels(self.service, self.topic).set_function(
            lambda: self.busy_seconds
        )

    @property
    def service(self) -> str:
        return self.pipeline.service

    @property
    def busy_seconds(self) -> float:
        """How long the longest-busy partition has been on its current record."""
        now = time.monotonic()
        return max((now - since for _, since in self.busy.values()), default=0.0)

    def stuck(self, after_s: float) -> dict[str, object] | None:
        """The record this consumer has been busy with for longer than `after_s`, if any."""
        now = time.monotonic()
        for partition, (offset, since) in sorted(self.busy.items(), key=lambda i: i[1][1]):
            if now - since > after_s:
                return {
                    "topic": self.topic,
                    "partition": partition,
                    "offset": offset,
                    "seconds": round(now - since, 1),
                }
        return None

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Process one record until its effects are durable; raises only on cancellation."""
        await self.handle_batch([record])

    async def handle_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Process a batch until every record's effects are durable and its events published.

        The whole batch (every partition in it) is one unit of work: one read of what was
        finished before, one bulk write per store, one publish, one marking. Should the unit
        fail (a conflict, a record that cannot be parsed, a handler error), each partition's
        records are handled one by one, the partitions side by side, so the culprit is
        retried or dead-lettered alone and the others go on."""
        if not records:
            return
        since = time.monotonic()
        by_partition: dict[int, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            by_partition.setdefault(record.partition, []).append(record)
            self.busy.setdefault(record.partition, (record.offset, since))
        try:
            if len(records) > 1 and await self._whole_batch(records):
                return
            await asyncio.gather(*(self._one_by_one(p, rs) for p, rs in by_partition.items()))
        finally:
            for partition in by_partition:
                self.busy.pop(partition, None)

    async def _whole_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> bool:
        """Handle the batch as one unit; False if it has to be handled one by one."""
        events: list[tuple[ConsumerRecord[bytes, bytes], CloudEvent]] = []
        for record in records:
            try:
                events.append((record, CloudEvent.from_bytes(record.value or b"")))
            except NotACloudEventError:
                return False  # left to the one-by-one path, which dead-letters it
        outages = 0
        while True:
            try:
                await self._as_one_unit(events)
            except Conflict:
                self.metrics.retries.labels(self.service, "conflict").inc()
                return False
            except Exception as exc:  # noqa: BLE001 - an outage is waited out, else split
                if not self.retry.transient(exc):
                    log.info(
                        "batch_split", topic=self.topic, records=len(records), error=repr(exc)[:300]
                    )
                    return False
                outages += 1  # the whole batch again once the server answers
                await self._retry_later("transient", records[0], outages, exc)
                continue
            return True

    async def _one_by_one(
        self, partition: int, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        for record in records:
            self.busy[partition] = (record.offset, time.monotonic())
            await self._handle(record)

    async def _as_one_unit(
        self, events: list[tuple[ConsumerRecord[bytes, bytes], CloudEvent]]
    ) -> None:
        pipeline = self.pipeline
        keys = [identity_key(e.source, e.id) for _, e in events]
        routed = [k for (_, e), k in zip(events, keys, strict=True) if e.type in self.routes]
        finished = await pipeline.processed.seen_many(routed)
        unit = pipeline.unit()
        handled = []
        for (record, event), key in zip(events, keys, strict=True):
            where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
            handled.append(
                await pipeline.handle(
                    event,
                    self.routes,
                    commands=self.commands,
                    where=where,
                    unit=unit,
                    finished=finished.get(key),
                )
            )
        await pipeline.complete(unit, handled)

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
