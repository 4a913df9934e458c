"""Publishing with acks=all and the idempotent producer; dead letters; the outbox relay."""

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from shared._kit.aggregates import AggregateStore
from shared._kit.clock import Clock
from shared._kit.context import Applied
from shared._kit.envelope import CloudEvent, kafka_headers
from shared._kit.metrics import PlatformMetrics
from shared._kit.pipeline import event_fields
from shared._kit.topics import dlq_topic

log = structlog.get_logger("station.publishing")


class Publisher:
    """Sends CloudEvents and dead letters through one idempotent, acks=all producer."""

    def __init__(self, producer: AIOKafkaProducer, *, service: str, metrics: PlatformMetrics):
        self.producer = producer
        self.service = service
        self.metrics = metrics

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        """Publish all, in order, and return once the broker has every one of them."""
        futures = [
            await self.producer.send(topic, e.to_bytes(), key=e.key, headers=kafka_headers())
            for e in events
        ]
        for event, future in zip(events, futures, strict=True):
            record = await future
            self.metrics.emitted.labels(self.service, event.type).inc()
            log.info(
                "event_emitted",
                topic=topic,
                partition=record.partition,
                offset=record.offset,
                **event_fields(event),
            )

    async def publish_applied(self, topic: str, applied: Sequence[Applied[Any]]) -> None:
        """Publish what each aggregate change emitted, then drop it from its outbox."""
        for one in applied:
            if one.events:
                await self.publish(topic, one.events)
                await one.mark_published()

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str
    ) -> None:
        """Copy the message byte for byte to `<topic>.dlq`, with why in the headers."""
        headers = [
            *(record.headers or ()),
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-error", error.encode()[:4000]),
            ("x-dlq-original-topic", record.topic.encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
        ]
        await self.producer.send_and_wait(
            dlq_topic(record.topic), record.value, key=record.key, headers=headers
        )
        self.metrics.dead_lettered.labels(self.service, record.topic, reason).inc()
        log.warning(
            "dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            error=error,
        )


class OutboxRelay:
    """Publishes what a crash left in outboxes; safe with several replicas (ids dedupe)."""

    def __init__(
        self,
        publisher: Publisher,
        stores: Sequence[AggregateStore[Any]],
        *,
        topic: str,
        clock: Clock,
        interval_s: float = 2.0,
        grace_s: float = 5.0,
    ) -> None:
        self.publisher = publisher
        self.stores = stores
        self.topic = topic
        self.clock = clock
        self.interval_s = interval_s
        self.grace_s = grace_s

    async def relay_once(self) -> int:
        """One pass over every store; return how many events it published."""
        published = 0
        older_than = self.clock.now() - timedelta(seconds=self.grace_s)
        backlog = 0
        for store in self.stores:
            left = await store.unsent(older_than)
            backlog += len(left)
            for applied in left:
                log.info(
                    "outbox_relayed", aggregate_id=applied.aggregate_id, events=len(applied.events)
                )
                await self.publisher.publish_applied(self.topic, [applied])
                published += len(applied.events)
        self.publisher.metrics.outbox_backlog.labels(self.publisher.service).set(backlog)
        return published

    async def run(self) -> None:
        while True:
            try:
                await self.relay_once()
            except Exception as exc:  # noqa: BLE001 - the next pass tries again
                log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.interval_s)
