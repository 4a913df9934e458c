"""The enterprise service under an open loop: 60 enterprises on topics of their own,
`declare_inventory` commands sent at a steady rate, and the time each command's
`inventory_changed` is seen (`bench.throughput`, `bench.latency`)."""

import asyncio
import contextlib
import gc
import json
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from bench.common import handled
from infra.kafka import ensure_topics
from shared._kit.envelope import CloudEvent, kafka_headers
from shared._kit.kafka_client import client_options
from shared._kit.topics import dlq_topic
from tests.processes import ServiceProcess
from tests.support import command, produce

BUTANONE = "78-93-3"


def registration(eid: str, licences: list[str], cas: str, capacity_kg: float) -> CloudEvent:
    """`register_enterprise` for a benchmark's enterprise in Lishui, with one warehouse."""
    return command(
        "enterprise.register_enterprise",
        eid,
        {
            "enterprise_id": eid,
            "name": eid,
            "address": "Lishui",
            "location": {"lat": 28.45, "lon": 119.92},
            "licences": licences,
            "liaison_officer": {"officer_id": "o", "name": "Lü", "phone": "13800000001"},
            "contact": {"name": "c", "phone": "13900000002"},
            "storage": [{"cas": cas, "capacity_kg": capacity_kg}],
        },
    )


async def _service_topics(bootstrap: str, prefix: str) -> None:
    topics = [f"{prefix}.intake", f"{prefix}.events"]
    await ensure_topics(bootstrap, [*topics, *map(dlq_topic, topics)])


class FactClock:
    """When each command's first fact arrived on an events topic (by causation id)."""

    def __init__(self, bootstrap: str, topic: str, fact_type: str) -> None:
        self.bootstrap, self.topic, self.fact_type = bootstrap, topic, fact_type
        self.arrived: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **client_options(self.bootstrap), group_id=None, enable_auto_commit=False
        )
        await self._consumer.start()
        partitions = [TopicPartition(self.topic, p) for p in range(6)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    event = json.loads(r.value)
                    if event["type"] == self.fact_type:
                        self.arrived.setdefault(event["causationid"], now)

    async def wait(self, ids: Sequence[str], timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while any(i not in self.arrived for i in ids):
            if time.monotonic() > deadline:
                missing = sum(i not in self.arrived for i in ids)
                raise TimeoutError(f"{missing} of {len(ids)} facts never arrived")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass
class Enterprise:
    """The enterprise service as a process on topics of its own, with 60 enterprises."""

    bootstrap: str
    url: str
    prefix: str = field(default_factory=lambda: f"enterprise-bench-{uuid.uuid4().hex[:8]}")
    count: int = 60

    @property
    def ids(self) -> list[str]:
        return [f"{self.prefix}-{n:03}" for n in range(self.count)]

    def process(self) -> ServiceProcess:
        return ServiceProcess(
            "enterprise",
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "MONGODB_URL": self.url,
                "ENTERPRISE_TOPIC_PREFIX": self.prefix,
                "ENTERPRISE_CONSUMER_GROUP": self.prefix,
                "ENTERPRISE_MONGODB_DATABASE": self.prefix.replace("-", "_"),
                "ENTERPRISE_KAFKA_SESSION_TIMEOUT_MS": "6000",
            },
        )

    def declarations(self, n: int, start: int = 0) -> list[CloudEvent]:
        ids = self.ids
        return [
            command(
                "enterprise.declare_inventory",
                ids[k % len(ids)],
                {
                    "enterprise_id": ids[k % len(ids)],
                    "cas": BUTANONE,
                    "movement": "purchase",
                    "quantity_kg": 1,
                },
            )
            for k in range(start, start + n)
        ]

    async def register(self, service: ServiceProcess) -> None:
        await _service_topics(self.bootstrap, self.prefix)
        registrations = [
            registration(eid, ["drug_precursor_3", "hazardous"], BUTANONE, 10_000_000)
            for eid in self.ids
        ]
        await service.start()
        await service.wait_ready()
        await self.send(registrations)
        await handled(service, len(registrations), "enterprise.register_enterprise")

    async def send(self, commands: Sequence[CloudEvent]) -> None:
        await produce(
            self.bootstrap, f"{self.prefix}.intake", [(c.key, c.to_bytes()) for c in commands]
        )


class Window(NamedTuple):
    """An open loop's figures (ms): latency quantiles of the commands counted, and how long
    after the last command was sent its last fact came. That stays near one latency while
    the service keeps up with the rate, and grows with the backlog when it does not."""

    p50: float
    p95: float
    p99: float
    behind: float


async def open_loop(
    ent: Enterprise, clock: FactClock, rate: float, seconds: float, start: int
) -> Window:
    """Commands at a steady `rate` for WARMUP_S + `seconds`; p50, p95, p99 from sent to
    fact seen, of those sent after the warm-up (the first seconds at a new rate follow a
    burst or a slower rate: what the service does then is not the steady state).

    This process's own garbage collector is off while it measures: a full collection
    here (40-55 ms, measured) would date every fact that arrived meanwhile late, and
    count the pause as the service's."""
    with collector_paused():
        return await _open_loop(ent, clock, rate, seconds, start)


WARMUP_S = 2.0
# the sender wakes at most this often, and sends what is due (measured at 700/s: 2 ms
# ticks cost it 0.41 s of CPU per 1,000 commands, 5 ms 0.30, one wake-up per command 0.48)
TICK_S = 0.005


def commands_at(rate: float, seconds: float) -> int:
    """How many commands an open loop at `rate` for `seconds` sends, warm-up included."""
    return int(rate * (WARMUP_S + seconds))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _open_loop(
    ent: Enterprise, clock: FactClock, rate: float, seconds: float, start: int
) -> Window:
    producer = AIOKafkaProducer(
        **client_options(ent.bootstrap), acks="all", enable_idempotence=True, linger_ms=1
    )
    await producer.start()
    sent: dict[str, float] = {}
    warmup = int(rate * WARMUP_S)
    commands = ent.declarations(commands_at(rate, seconds), start)
    # encoded before the clock starts, and sent by ticks: what is due goes out together,
    # stamped with the tick's time (one wake-up and one produce request per tick, not
    # per command: the sender is not the service, and shares its two cores)
    topic, headers = f"{ent.prefix}.intake", kafka_headers()
    encoded = [(c.id, c.key, c.to_bytes()) for c in commands]
    began = time.perf_counter()
    try:
        n = 0
        while n < len(encoded):
            now = time.perf_counter()
            due = min(len(encoded), int((now - began) * rate) + 1)
            for cid, key, value in encoded[n:due]:
                sent[cid] = now
                await producer.send(topic, value, key=key, headers=headers)
            n = due
            await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter(), TICK_S))
        await producer.flush()
    finally:
        await producer.stop()
    await clock.wait(list(sent))
    measured = [c.id for c in commands[warmup:]]
    latencies = sorted((clock.arrived[i] - sent[i]) * 1000 for i in measured)
    q = statistics.quantiles(latencies, n=100)
    behind = (max(clock.arrived[i] for i in sent) - max(sent.values())) * 1000
    return Window(q[49], q[94], q[98], behind)
