"""Consume with effects exactly once: parse, run the pipeline, then let FastStream commit.

`Consumer.handle` is what a FastStream subscriber calls for each Kafka record; it returns
only when the record's effects are durable and its events published, so FastStream
commits after it (never before):
- bytes that are not a CloudEvent (whatever the parser raises) go to `<topic>.dlq`, byte
  for byte, with the reason `not_a_cloudevent`;
- on another service's events topic, only its owner speaks: a record whose `source` is
  not `/services/<owner>` goes to the DLQ as `foreign_source`, one whose `type` is not
  `<owner>.*` as `foreign_type`; neither reaches a handler nor is remembered as handled,
  so a forged copy of a fact cannot make deduplication drop the real one;
- transient failures (MongoDB or Kafka unreachable) are retried with capped exponential
  backoff for as long as they last and never dead-lettered;
- a handler that keeps raising on one record is dead-lettered after `max_attempts`.
"""

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import structlog
from aiokafka.structs import ConsumerRecord

from shared._kit.envelope import SERVICE_SOURCE, CloudEvent, NotACloudEventError, identity_key
from shared._kit.metrics import PlatformMetrics
from shared._kit.pipeline import Pipeline, Route
from shared._kit.unit import Conflict

log = structlog.get_logger("station.consuming")

# why a record never reached a handler (its DLQ copy's `x-dlq-reason`)
NOT_A_CLOUDEVENT: Final = "not_a_cloudevent"
FOREIGN_SOURCE: Final = "foreign_source"
FOREIGN_TYPE: Final = "foreign_type"
HANDLER_FAILED: Final = "handler_failed"
MAX_ERROR_CHARS: Final = 500


@dataclass(frozen=True)
class Refusal:
    """Why a record is dead-lettered without reaching a handler."""

    reason: str
    error: str


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
    # the service whose facts this topic carries; None on the service's own intake
    owner: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.metrics.busy_seconds.labels(self.service, self.topic).set_function(
            lambda: self.busy_seconds
        )
        if not self.commands:
            # the routes say whose facts they expect, whatever the topic is called (tests
            # give topics a prefix)
            owners = {route.model.prefix() for route in self.routes.values()}
            if len(owners) != 1:
                raise ValueError(f"{self.topic}: facts of one service expected, got {owners}")
            self.owner = owners.pop()

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
        finished before, one bulk write per store, one publish, one marking. Records no
        handler may see are dead-lettered beside it. Should the unit fail (a conflict, a
        handler error), each partition's records are handled one by one, the partitions
        side by side, so the culprit is retried or dead-lettered alone and the others go on."""
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
        """Handle the batch as one unit; False if it has to be handled one by one.

        Records refused before any handler (unreadable, or not their topic's owner's) stay
        out of the unit and are dead-lettered once it is written: if the unit fails, the
        one-by-one path dead-letters them, once."""
        events: list[tuple[ConsumerRecord[bytes, bytes], CloudEvent]] = []
        refused: list[tuple[ConsumerRecord[bytes, bytes], Refusal]] = []
        for record in records:
            read = self.read(record)
            if isinstance(read, Refusal):
                refused.append((record, read))
            else:
                events.append((record, read))
        outages = 0
        while events:
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
            break
        for record, refusal in refused:
            await self._dead_letter(record, refusal)
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
                    error = f"{type(exc).__name__}: {exc}"
                    await self._dead_letter(record, Refusal(HANDLER_FAILED, error))
                    return
                await self._retry_later("handler", record, failures, exc)
            else:
                return

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        read = self.read(record)
        if isinstance(read, Refusal):
            await self.dead_letters.dead_letter(record, reason=read.reason, error=read.error)
            return
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        await self.pipeline.process(read, self.routes, commands=self.commands, where=where)

    def read(self, record: ConsumerRecord[bytes, bytes]) -> CloudEvent | Refusal:
        """The record's CloudEvent, or why no handler may see it."""
        try:
            event = CloudEvent.from_bytes(record.value or b"")
        except NotACloudEventError as exc:
            return Refusal(NOT_A_CLOUDEVENT, str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever the parser raises, the partition goes on
            return Refusal(NOT_A_CLOUDEVENT, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
        if self.owner is None:
            return event
        speaker = f"{SERVICE_SOURCE}{self.owner}"
        if event.source != speaker:
            return Refusal(
                FOREIGN_SOURCE, f"source {event.source!r} on {self.owner}'s facts, not {speaker}"
            )
        if event.type.partition(".")[0] != self.owner:
            return Refusal(FOREIGN_TYPE, f"type {event.type!r} among {self.owner}'s facts")
        return event

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

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], refusal: Refusal) -> None:
        while True:  # the dead letter itself must get out, whatever Kafka does meanwhile
            try:
                await self.dead_letters.dead_letter(
                    record, reason=refusal.reason, error=refusal.error
                )
            except Exception as dlq_exc:  # noqa: BLE001 - an outage waits, the rest is logged
                if not self.retry.transient(dlq_exc):
                    # never block the partition: the log line keeps the coordinates
                    log.error(
                        "undeliverable",
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        reason=refusal.reason,
                        error=refusal.error[:MAX_ERROR_CHARS],
                        dlq_error=f"{type(dlq_exc).__name__}: {dlq_exc}"[:MAX_ERROR_CHARS],
                    )
                    return
                await asyncio.sleep(self.retry.max_backoff_s)
            else:
                return
