"""The one-run throughput benchmark: the raw limits and the platform, side by side.

    uv run python -m bench.throughput [--records 20000 --commands 3000 --plot latency.png]

Needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL (e.g. `eval "$(scripts/infra env)"`). In one
process and one run it measures: a raw aiokafka relay batched (getmany, produce all,
one commit) and per record; a raw single-document update on the store; the platform (the
ledger service: one aggregate update and one event per command) with 10 and with 1,000
commands per aggregate; the enterprise service black-box (declare_inventory in, until
every inventory_changed is seen); then end-to-end latency at 50, 80 and 100 % of the
black-box rate, and a kill and restart. Prints a table and writes a PNG of latency
against rate.
"""

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from bench.common import drop_database, handled
from bench.platform import ledger_run, raw_kafka_relay, raw_mongo_updates, relay_ends
from bench.plot import latency_plot
from infra.kafka import ensure_topics
from shared._kit.envelope import CloudEvent, kafka_headers
from shared._kit.topics import dlq_topic
from tests.support import ServiceProcess, command, produce

BUTANONE = "78-93-3"


@dataclass
class Row:
    name: str
    rate: float
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    latency: list[tuple[float, float, float, float]] = field(default_factory=list)

    def add(self, name: str, rate: float, note: str = "") -> float:
        self.rows.append(Row(name, rate, note))
        print(f"{name:<58} {rate:9.1f} /s  {note}", flush=True)
        return rate


async def raw_batched_relay(bootstrap: str, records: int) -> float:
    """Consume, produce all of a batch without waiting one by one, commit once per batch."""
    sink, consumer, producer = await relay_ends(bootstrap, records)
    done, started = 0, 0.0
    try:
        while done < records:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            if not started and batch:
                started = time.perf_counter()
            sends = [
                await producer.send(sink, r.value, key=r.key) for rs in batch.values() for r in rs
            ]
            await asyncio.gather(*sends)
            await consumer.commit()
            done += len(sends)
        return records / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def _service_topics(bootstrap: str, prefix: str) -> None:
    topics = [f"{prefix}.intake", f"{prefix}.events"]
    await ensure_topics(bootstrap, [*topics, *map(dlq_topic, topics)])


async def platform_rate(bootstrap: str, url: str, commands: int, aggregates: int) -> float:
    """The ledger service handling `commands` spread over `aggregates` accounts."""
    elapsed, _ = await ledger_run(bootstrap, url, commands, aggregates)
    return commands / elapsed


class FactClock:
    """When each command's first fact arrived on an events topic (by causation id)."""

    def __init__(self, bootstrap: str, topic: str, fact_type: str) -> None:
        self.bootstrap, self.topic, self.fact_type = bootstrap, topic, fact_type
        self.arrived: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
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
            command(
                "enterprise.register_enterprise",
                eid,
                {
                    "enterprise_id": eid,
                    "name": eid,
                    "address": "Lishui",
                    "location": {"lat": 28.45, "lon": 119.92},
                    "licences": ["drug_precursor_3", "hazardous"],
                    "liaison_officer": {"officer_id": "o", "name": "Lü", "phone": "138"},
                    "contact": {"name": "c", "phone": "139"},
                    "storage": [{"cas": BUTANONE, "capacity_kg": 10_000_000}],
                },
            )
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


async def black_box(ent: Enterprise, clock: FactClock, commands: list[CloudEvent]) -> float:
    """Commands in at once; the rate from the first sent to the last fact seen."""
    started = time.perf_counter()
    await ent.send(commands)
    await clock.wait([c.id for c in commands])
    return len(commands) / (max(clock.arrived[c.id] for c in commands) - started)


async def open_loop(
    ent: Enterprise, clock: FactClock, rate: float, seconds: float, start: int
) -> tuple[float, float, float]:
    """Commands at a steady `rate` for WARMUP_S + `seconds`; p50, p95, p99 from sent to
    fact seen, of those sent after the warm-up (the first seconds at a new rate follow a
    burst or a slower rate: what the service does then is not the steady state).

    This process's own garbage collector is off while it measures: a full collection
    here (40-55 ms, measured) would date every fact that arrived meanwhile late, and
    count the pause as the service's."""
    with collector_paused():
        return await _open_loop(ent, clock, rate, seconds, start)


WARMUP_S = 2.0


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
) -> tuple[float, float, float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=ent.bootstrap, acks="all", enable_idempotence=True, linger_ms=1
    )
    await producer.start()
    sent: dict[str, float] = {}
    warmup = int(rate * WARMUP_S)
    commands = ent.declarations(commands_at(rate, seconds), start)
    began = time.perf_counter()
    try:
        for n, c in enumerate(commands):
            delay = began + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[c.id] = time.perf_counter()
            await producer.send(
                f"{ent.prefix}.intake", c.to_bytes(), key=c.key, headers=kafka_headers()
            )
        await producer.flush()
    finally:
        await producer.stop()
    await clock.wait(list(sent))
    measured = [c.id for c in commands[warmup:]]
    latencies = sorted((clock.arrived[i] - sent[i]) * 1000 for i in measured)
    q = statistics.quantiles(latencies, n=100)
    return q[49], q[94], q[98]


async def restart_time(ent: Enterprise, clock: FactClock, start: int) -> float:
    """SIGKILL the service under load, start it again: seconds from the restart until it
    handles again."""
    service = ent.process()
    await service.start()
    await service.wait_ready()
    await ent.send(ent.declarations(2000, start))
    await asyncio.sleep(1.0)  # the scenario: killed while busy
    await service.kill()
    again = ent.process()
    restarted = time.perf_counter()
    await again.start()
    probe = ent.declarations(1, start + 10_000)
    await ent.send(probe)
    await clock.wait([probe[0].id], timeout_s=120)
    seconds = clock.arrived[probe[0].id] - restarted
    await again.stop()
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--commands", type=int, default=3_000)
    parser.add_argument("--plot", default="throughput-latency.png")
    args = parser.parse_args()
    bootstrap, url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"]
    out = Results()
    kafka_batched = out.add(
        "raw aiokafka relay, batched (getmany, one commit)",
        await raw_batched_relay(bootstrap, args.records),
    )
    out.add("raw aiokafka relay, per record", await raw_kafka_relay(bootstrap, 2000))
    store = out.add("raw single-document update_one", await raw_mongo_updates(url, 2000))
    platform = out.add(
        "platform: 1 update + 1 event, 10 per aggregate",
        await platform_rate(bootstrap, url, args.commands, args.commands // 10),
    )
    out.add(
        "platform: 1 update + 1 event, 1,000 per aggregate",
        await platform_rate(bootstrap, url, args.commands, 3),
    )
    ent = Enterprise(bootstrap, url)
    clock = FactClock(bootstrap, f"{ent.prefix}.events", "enterprise.inventory_changed")
    service = ent.process()
    await ent.register(service)
    await clock.start()
    try:
        sustained = out.add(
            f"black-box declare_inventory, {args.commands} over 60",
            await black_box(ent, clock, ent.declarations(args.commands)),
        )
        out.add(
            "black-box declare_inventory, 6,000 over 60 (100 each)",
            await black_box(ent, clock, ent.declarations(6000, args.commands)),
        )
        start = args.commands + 6000
        for share in (0.5, 0.8, 1.0):
            rate = sustained * share
            p50, p95, p99 = await open_loop(ent, clock, rate, 8.0, start)
            start += commands_at(rate, 8.0) + 1
            out.latency.append((rate, p50, p95, p99))
            print(
                f"latency at {share:.0%} ({rate:.0f}/s): "
                f"p50 {p50:.0f} ms  p95 {p95:.0f} ms  p99 {p99:.0f} ms",
                flush=True,
            )
        await service.stop()
        seconds = await restart_time(ent, clock, start + 100_000)
        print(f"killed under load, restarted: handling again after {seconds:.1f} s", flush=True)
    finally:
        await service.kill()
        await clock.stop()
        await drop_database(url, ent.prefix.replace("-", "_"))
    print(
        json.dumps(
            {
                "platform_vs_raw_store": round(platform / store, 3),
                "platform_vs_raw_batched_kafka": round(platform / kafka_batched, 4),
            }
        )
    )
    latency_plot(out.latency, args.plot)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    asyncio.run(main())
