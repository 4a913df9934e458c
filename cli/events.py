"""Reading the events topics: everything up to now (`read_all`), or live (`follow`).

The operators' tools build every view (tail, story, report, demo) from the topics, not
from the services' databases. A record that cannot be read (a stray producer, a
tombstone, a hostile record: whatever the parser raises) is kept as an `Event` with
`type` `"?"` and its `problem`: the views skip it and say how many they skipped
(`skipped_note`), never drop it silently and never fail on it.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from cli.i18n import Lang, labels, t
from cli.options import kafka_options
from shared._kit.envelope import CloudEvent, NotACloudEventError

SERVICES = ("mediation", "enterprise", "outreach", "notifier")
EVENTS_TOPICS = tuple(f"{s}.events" for s in SERVICES)
INTAKE_TOPICS = tuple(f"{s}.intake" for s in SERVICES)
# a record's time when the producer wrote one no calendar holds (any int64 is accepted)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_PROBLEM_CHARS = 300

labels(
    {
        "events.unreadable": {
            "zh": "已跳过 {n} 条无法读取的记录",
            "en": "{n} unreadable records skipped",
        },
    }
)


@dataclass(frozen=True)
class Event:
    """One record of a topic, parsed as far as it goes."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime  # the broker's record time
    id: str = ""
    type: str = "?"
    source: str = ""
    subject: str | None = None
    time: datetime | None = None  # the CloudEvent's own time, when it has one
    correlationid: str | None = None
    causationid: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why the record is not a CloudEvent

    @property
    def service(self) -> str:
        return self.topic.split(".", 1)[0]

    @property
    def at(self) -> datetime:
        return self.time or self.timestamp

    @property
    def correlation(self) -> str:
        return self.correlationid or self.id


def parse(topic: str, partition: int, offset: int, timestamp_ms: int, value: bytes | None) -> Event:
    """The record as an Event; one that cannot be read has its `problem` (never raises)."""
    try:
        stamp = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return Event(topic, partition, offset, EPOCH, problem=f"timestamp {timestamp_ms}")
    if value is None:
        return Event(topic, partition, offset, stamp, problem="no value (tombstone)")
    try:
        ce = CloudEvent.from_bytes(value)
    except NotACloudEventError as exc:
        return Event(topic, partition, offset, stamp, problem=str(exc))
    except Exception as exc:  # noqa: BLE001 - whatever a hostile record makes the parser raise
        problem = f"{type(exc).__name__}: {exc}"[:MAX_PROBLEM_CHARS]
        return Event(topic, partition, offset, stamp, problem=problem)
    return Event(
        topic,
        partition,
        offset,
        stamp,
        id=ce.id,
        type=ce.type,
        source=ce.source,
        subject=ce.subject,
        time=ce.time,
        correlationid=ce.correlationid,
        causationid=ce.causationid,
        data=ce.data or {},
    )


def unreadable(events: Sequence[Event]) -> int:
    """How many of `events` could not be read."""
    return sum(1 for e in events if e.problem is not None)


def skipped_note(count: int, lang: Lang) -> str | None:
    """What an operator is told about the records a view skipped ("3 unreadable records
    skipped"), or None when it skipped none."""
    return t("events.unreadable", lang, n=count) if count else None


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **kafka_options(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15000,
    )


async def _assign(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    parts: list[TopicPartition] = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if ids is None:  # metadata not yet fetched, or the topic does not exist
            await consumer._client.force_metadata_update()
            ids = consumer.partitions_for_topic(topic) or set()
        parts.extend(TopicPartition(topic, p) for p in sorted(ids))
    consumer.assign(parts)
    return parts


async def read_all(
    bootstrap: str, topics: Sequence[str] = EVENTS_TOPICS, *, timeout_s: float = 60.0
) -> list[Event]:
    """Every record of `topics` from the beginning up to their end at the time of the call,
    in broker-time order (ties: topic, partition, offset)."""
    consumer = _consumer(bootstrap)
    try:
        # inside: a consumer refused at start (a wrong password) is closed all the same
        await consumer.start()
        parts = await _assign(consumer, topics)
        if not parts:
            return []
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        todo = {tp for tp in parts if ends[tp] > 0}
        found: list[Event] = []
        async with asyncio.timeout(timeout_s):
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=500)
                for tp, records in batch.items():
                    found.extend(
                        parse(r.topic, r.partition, r.offset, r.timestamp, r.value)
                        for r in records
                        if r.offset < ends[tp]
                    )
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
        found.sort(key=lambda e: (e.timestamp, e.topic, e.partition, e.offset))
        return found
    finally:
        await consumer.stop()


async def follow(
    bootstrap: str, topics: Sequence[str] = EVENTS_TOPICS, *, from_beginning: bool = False
) -> AsyncIterator[Event]:
    """Records of `topics` as they arrive (from now, or from the beginning), forever."""
    consumer = _consumer(bootstrap)
    try:
        # inside: a consumer refused at start (a wrong password) is closed all the same
        await consumer.start()
        parts = await _assign(consumer, topics)
        if from_beginning:
            await consumer.seek_to_beginning(*parts)
        else:
            await consumer.seek_to_end(*parts)
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    yield parse(r.topic, r.partition, r.offset, r.timestamp, r.value)
    finally:
        await consumer.stop()


def as_json(event: Event) -> str:
    """One line of JSON for machines (`tail --json`)."""
    return json.dumps(
        {
            "topic": event.topic,
            "partition": event.partition,
            "offset": event.offset,
            "timestamp": event.timestamp.isoformat(),
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "time": event.time.isoformat() if event.time else None,
            "correlationid": event.correlationid,
            "causationid": event.causationid,
            "data": event.data,
            **({"problem": event.problem} if event.problem else {}),
        },
        ensure_ascii=False,
        default=str,
    )
