"""Dead letters: whatever a record looks like, it ends in `<topic>.dlq` or on record.

The copy is byte for byte (key, value, headers) with why in `x-dlq-*` headers. Kafka
refuses some records outright: one with neither key nor value (a tombstone), or one the
DLQ headers push past the broker's size limit. Those get a copy without the value (and
without the original headers), saying what was left out; if even that is refused, the
record's coordinates and why are stored in the `undeliverable` collection. Either way
the partition goes on. Outages are raised, so the caller retries.

The reason (`x-dlq-error`, the log line, the `undeliverable` entry) is an exception's
text, which may quote the record: phone and ID numbers in it are masked. The copy's
key, value and headers are not touched (the contract wants them byte for byte).
"""

from collections.abc import Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pymongo.asynchronous.collection import AsyncCollection

from shared._kit.clock import Clock
from shared._kit.masking import mask_text
from shared._kit.metrics import PlatformMetrics
from shared._kit.topics import dlq_topic

log = structlog.get_logger("station.deadletters")
MAX_ERROR_BYTES = 4000
Header = tuple[str, bytes]


def masked_error(error: str) -> str:
    """The reason's text as it may be kept: masked, then cut to `MAX_ERROR_BYTES` (masked
    first, so the cut never leaves the start of a number unmasked)."""
    # a margin longer than any number masked, so one cut in two is masked whole
    return (
        mask_text(error[: MAX_ERROR_BYTES + 32]).encode()[:MAX_ERROR_BYTES].decode(errors="ignore")
    )


def _reason_headers(record: ConsumerRecord[bytes, bytes], reason: str, error: str) -> list[Header]:
    return [
        ("x-dlq-reason", reason.encode()),
        ("x-dlq-error", masked_error(error).encode()),
        ("x-dlq-original-topic", record.topic.encode()),
        ("x-dlq-original-partition", str(record.partition).encode()),
        ("x-dlq-original-offset", str(record.offset).encode()),
    ]


class DeadLetters:
    """Copies records a service cannot accept to their DLQ, or records them as undeliverable."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        undeliverable: AsyncCollection[dict[str, Any]],
        *,
        service: str,
        metrics: PlatformMetrics,
        clock: Clock,
        transient: Callable[[BaseException], bool],
    ) -> None:
        self.producer = producer
        self.undeliverable = undeliverable
        self.service = service
        self.metrics = metrics
        self.clock = clock
        self.transient = transient

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str
    ) -> None:
        """Copy the record to `<topic>.dlq` (or record it as undeliverable); raise on outages."""
        topic = dlq_topic(record.topic)
        why = _reason_headers(record, reason, error)
        value, key = record.value, record.key
        extra: list[Header] = []
        if value is None and key is None:
            value, extra = b"", [("x-dlq-original-value", b"null")]
        try:
            await self.producer.send_and_wait(
                topic, value, key=key, headers=[*(record.headers or ()), *why, *extra]
            )
        except Exception as refused:
            if self.transient(refused):
                raise
            if not await self._without_value(record, topic, why, refused):
                return
        self._count(record, reason, "dead_lettered", error)

    async def _without_value(
        self,
        record: ConsumerRecord[bytes, bytes],
        topic: str,
        why: list[Header],
        refused: Exception,
    ) -> bool:
        """The copy without value and original headers; False if even that is refused."""
        size = len(record.value or b"") + sum(len(v or b"") for _, v in record.headers or ())
        omitted = f"value and headers left out ({size} bytes): {type(refused).__name__}"
        try:
            await self.producer.send_and_wait(
                topic,
                b"",
                key=(record.key or b"")[:1024] or None,
                headers=[*why, ("x-dlq-omitted", omitted.encode())],
            )
        except Exception as again:
            if self.transient(again):
                raise
            await self._record_undeliverable(record, why, f"{refused!r}; then {again!r}")
            return False
        return True

    async def _record_undeliverable(
        self, record: ConsumerRecord[bytes, bytes], why: list[Header], error: str
    ) -> None:
        coordinates = f"{record.topic}/{record.partition}/{record.offset}"
        await self.undeliverable.update_one(
            {"_id": coordinates},
            {
                "$setOnInsert": {
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": (record.key or b"")[:1024],
                    "value_bytes": len(record.value or b""),
                    "headers": {k: v.decode(errors="replace") for k, v in why},
                    "dlq_error": masked_error(error),
                    "at": self.clock.now(),
                }
            },
            upsert=True,
        )
        self._count(record, "undeliverable", "undeliverable", error)

    def _count(
        self, record: ConsumerRecord[bytes, bytes], reason: str, event: str, error: str
    ) -> None:
        self.metrics.dead_lettered.labels(self.service, record.topic, reason).inc()
        log.warning(
            event,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            error=masked_error(error),
        )
