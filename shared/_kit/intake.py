"""From Kafka to the consumer: a FastStream subscriber per topic that hands over raw records.

FastStream's own parser decodes every header value as UTF-8 and, when one is not (a
binary tracing header, say), fails before the subscriber sees the record: the error is
only logged and the next commit moves past it (FastStream issue #2458). Its decoder
decodes the body by content type, so a body that lies about being JSON fails the same
way. The pipeline reads only the raw record, so the parser here gives FastStream the
headers it can decode, keeps the record itself intact, and the decoder passes bytes.
"""

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from shared._kit.consuming import Consumer
from shared._kit.settings import ServiceSettings

Record: TypeAlias = ConsumerRecord[bytes, bytes]


def _decodable(value: bytes | None) -> bool:
    try:
        (value or b"").decode()
    except UnicodeDecodeError:
        return False
    return True


def _readable(record: Record) -> Record:
    headers = [(k, v) for k, v in (record.headers or ()) if _decodable(v)]
    return dataclasses.replace(record, headers=headers)


async def parse_batch(
    records: tuple[Record, ...],
    original: Callable[[tuple[Record, ...]], Awaitable[StreamMessage[tuple[Record, ...]]]],
) -> StreamMessage[tuple[Record, ...]]:
    """FastStream's message for a batch, whatever bytes its records' headers carry."""
    parsed = await original(tuple(_readable(r) for r in records))
    parsed.raw_message = records
    return parsed


def raw_body(message: StreamMessage[Any]) -> Any:
    """The body as it is: the pipeline parses CloudEvents itself."""
    return message.body


def subscribe(
    broker: KafkaBroker, topic: str, consumer: Consumer, settings: ServiceSettings
) -> None:
    """One batch subscriber on `topic` in the service's group, committing after
    `consumer.handle_batch` returned for the whole batch."""

    # FastStream commits the batch after this returns (NACK_ON_ERROR: ack after success,
    # seek every partition back to its first record if cancelled mid-way), and
    # handle_batch returns only once every record's effects are durable.
    @broker.subscriber(
        topic,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        parser=parse_batch,
        decoder=raw_body,
        title=f"{consumer.service}:{topic}",
    )
    async def on_batch(message: KafkaMessage) -> None:
        await consumer.handle_batch(message.raw_message)
