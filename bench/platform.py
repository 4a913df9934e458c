"""Benchmark: raw Kafka relay, raw MongoDB updates, and the platform doing both per event.

    uv run python -m bench.platform [--events 2000]

Needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL (e.g. `eval "$(scripts/infra env)"`).
Prints events/s and p50/p99 latency of each, and the platform's throughput as a share of
the slower raw one. The platform run is the ledger test service as a separate process:
one aggregate update (inbox + outbox in one compare-and-set) and one event per command.
"""

import argparse
import asyncio
import json
import os
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from bench.common import drop_database, handled, report
from infra.kafka import ensure_topics
from shared._kit.kafka_client import client_options
from shared._kit.topics import dlq_topic
from tests.processes import ServiceProcess
from tests.support import command, produce


async def relay_ends(
    bootstrap: str, records: int
) -> tuple[str, AIOKafkaConsumer, AIOKafkaProducer]:
    """A topic holding `records` records, a started consumer of it, a started producer
    (acks=all, idempotent), and the name of the topic to relay to."""
    source, sink = f"bench.{uuid.uuid4().hex[:8]}.in", f"bench.{uuid.uuid4().hex[:8]}.out"
    await ensure_topics(bootstrap, [source, sink])
    await produce(bootstrap, source, [(f"k{n % 50}".encode(), b"x" * 300) for n in range(records)])
    consumer = AIOKafkaConsumer(
        source,
        **client_options(bootstrap),
        group_id=source,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        **client_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=1
    )
    await consumer.start()
    await producer.start()
    return sink, consumer, producer


async def raw_kafka_relay(bootstrap: str, events: int) -> float:
    sink, consumer, producer = await relay_ends(bootstrap, events)
    latencies: list[float] = []
    try:
        started = 0.0
        for n in range(events):
            record = await consumer.getone()
            if n == 0:  # the clock starts once the group is joined and records flow
                started = time.perf_counter()
            t0 = time.perf_counter()
            await producer.send_and_wait(sink, record.value, key=record.key)
            await consumer.commit()  # per record, as the platform does
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
        await consumer.stop()
    return report("raw aiokafka consume+produce+commit", events, elapsed, latencies)


async def raw_mongo_updates(url: str, events: int) -> float:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    db = client[f"bench_{uuid.uuid4().hex[:8]}"]
    try:
        await db.docs.insert_many([{"_id": f"a{n}", "version": 0} for n in range(50)])
        latencies: list[float] = []
        started = time.perf_counter()
        for n in range(events):
            t0 = time.perf_counter()
            await db.docs.update_one({"_id": f"a{n % 50}"}, {"$inc": {"version": 1}})
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        await client.drop_database(db.name)
        await client.close()
    return report("raw single-document update_one", events, elapsed, latencies)


async def ledger_run(
    bootstrap: str, url: str, events: int, aggregates: int
) -> tuple[float, list[float]]:
    """The ledger service (one aggregate update and one event per command) handling
    `events` commands spread over `aggregates` accounts, all waiting before it starts:
    the seconds it took and each command's latency."""
    name = f"ledger-bench-{uuid.uuid4().hex[:8]}"
    topics = [f"{name}.intake", f"{name}.events"]
    await ensure_topics(bootstrap, [*topics, *map(dlq_topic, topics)])
    commands = [
        command(
            "ledger.record_entry",
            f"acct-{n % aggregates}",
            {"entry_id": f"e{n}", "account": f"acct-{n % aggregates}", "amount": 1},
        )
        for n in range(events)
    ]
    await produce(bootstrap, topics[0], [(c.key, c.to_bytes()) for c in commands])
    database = name.replace("-", "_")
    service = ServiceProcess(
        "ledger",
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MONGODB_URL": url,
            "LEDGER_TOPIC_PREFIX": name,
            "LEDGER_MONGODB_DATABASE": database,
            "LEDGER_CONSUMER_GROUP": name,
        },
        module="tests.platform.ledger",
    )
    await service.start()
    try:
        elapsed, latencies = await handled(service, events)
        await service.stop()
    finally:
        await service.kill()
        await drop_database(url, database)
    return elapsed, latencies


async def platform_handler(bootstrap: str, url: str, events: int) -> float:
    elapsed, latencies = await ledger_run(bootstrap, url, events, 500)
    return report("platform: 1 update + 1 event", events, elapsed, latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    bootstrap, url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"]
    kafka = await raw_kafka_relay(bootstrap, args.events)
    mongo = await raw_mongo_updates(url, args.events)
    platform = await platform_handler(bootstrap, url, args.events)
    print(json.dumps({"platform_vs_slower_raw": round(platform / min(kafka, mongo), 3)}))


if __name__ == "__main__":
    asyncio.run(main())
