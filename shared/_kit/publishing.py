"""Publishing with acks=all and the idempotent producer, and the outbox relay.

A fact with personal fields leaves as two records, its public copy on the events topic
and the whole event on the service's private topic (`personal.py`); it is published
when the broker has both. The outbox keeps the whole event, so the relay splits it the
same way.
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from shared._kit.aggregates import AggregateStore
from shared._kit.clock import Clock
from shared._kit.context import Applied
from shared._kit.envelope import CloudEvent, kafka_headers
from shared._kit.logging import lines_together
from shared._kit.marking import mark_all_published
from shared._kit.metrics import PlatformMetrics
from shared._kit.personal import copies
from shared._kit.pipeline import event_fields

log = structlog.get_logger("station.publishing")


class Publisher:
    """Sends CloudEvents through one idempotent, acks=all producer.

    `private`: the service's private topic, where the whole of each fact with personal
    fields goes (None: every event goes whole to the topic it is published on)."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        service: str,
        metrics: PlatformMetrics,
        private: str | None = None,
    ):
        self.producer = producer
        self.service = service
        self.metrics = metrics
        self.private = private

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        """Publish all, in order, and return once the broker has every one of them (both
        copies of a fact with personal fields)."""
        sent = [
            (to, e, await self.producer.send(to, e.to_bytes(), key=e.key, headers=kafka_headers()))
            for to, group in copies(topic, self.private, events)
            for e in group
        ]
        with lines_together():
            for to, event, future in sent:
                record = await future
                if to == topic:  # one fact, however many copies
                    self.metrics.emitted.labels(self.service, event.type).inc()
                log.info(
                    "event_emitted",
                    topic=to,
                    partition=record.partition,
                    offset=record.offset,
                    **event_fields(event),
                )

    async def publish_applied(self, topic: str, applied: Sequence[Applied[Any]]) -> None:
        """Publish what every aggregate change emitted (all sent before any is awaited, in
        order), then drop it from the outboxes, in bulk where the store can."""
        await self.publish(topic, [e for one in applied for e in one.events])
        await mark_all_published(applied)


class OutboxRelay:
    """Publishes what a crash left in outboxes; safe with several replicas (ids dedupe).

    A document whose events cannot be published for a reason other than an outage is
    reported and left out of later passes (until the service restarts), so one bad
    document never stops the sweep of the others.
    """

    def __init__(
        self,
        publisher: Publisher,
        stores: Sequence[AggregateStore[Any]],
        *,
        topic: str,
        clock: Clock,
        transient: Callable[[BaseException], bool],
        interval_s: float = 2.0,
        grace_s: float = 5.0,
    ) -> None:
        self.publisher = publisher
        self.stores = stores
        self.topic = topic
        self.clock = clock
        self.transient = transient
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.failing: dict[str, set[str]] = {store.name: set() for store in stores}

    async def relay_once(self) -> int:
        """One pass over every store; return how many events it published."""
        published = 0
        older_than = self.clock.now() - timedelta(seconds=self.grace_s)
        backlog = 0
        for store in self.stores:
            failing = self.failing.setdefault(store.name, set())
            left = await store.unsent(older_than, skip=sorted(failing))
            backlog += len(left) + len(failing)
            for doc in left:
                try:
                    applied = store.leftovers(doc)
                    if not applied.events:
                        continue  # published by this process, not yet marked
                    await self.publisher.publish_applied(self.topic, [applied])
                except Exception as exc:
                    if self.transient(exc):
                        raise  # an outage: the next pass tries everything again
                    failing.add(doc["_id"])
                    self.publisher.metrics.relay_failures.labels(self.publisher.service).inc()
                    log.error(
                        "outbox_relay_skipped",
                        store=store.name,
                        aggregate_id=doc["_id"],
                        error=f"{type(exc).__name__}: {exc}"[:500],
                    )
                    continue
                log.info("outbox_relayed", aggregate_id=doc["_id"], events=len(applied.events))
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
