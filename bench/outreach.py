"""Benchmark the outreach service: a warning for every elderly person in the county.

    uv run python -m bench.outreach [--households 36000 --volunteers 2000 --elderly-share 0.6]

Needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL (e.g. `eval "$(scripts/infra env)"`). Writes
the registry (households over 18 blocks, volunteers serving one or two blocks each) straight
into a database of its own, as the service's stores keep it after registration; starts
one service process on topics, consumer group and database of its own; issues a warning
for every household with a member aged 60 or more, then a second one about another scheme
(over blocks already holding the first one's visits, and beyond the volunteers' room);
for each it prints:
- the time from the warning to the last `visit_assigned` (broker timestamps), and to the
  first; the handler's own steps (its `campaign_planned` line) and its whole latency;
- the number of assignments and coverage gaps;
- the largest number of open visits against the largest maximum, and how many volunteers
  hold more than their maximum (from the roster and from the facts);
- what one durable timer per visit would cost: upserts timed on the same server.
"""

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from pymongo import AsyncMongoClient

from bench.common import drop_database
from infra.kafka import DEFAULT_PARTITIONS
from services.outreach import commands as c
from services.outreach.state import ROSTER_ID, RosterState
from shared._kit.clock import SystemClock
from shared._kit.envelope import kafka_headers
from shared._kit.kafka_client import client_options
from shared._kit.timers import Timers
from tests.integration.outreach_support import (
    as_event,
    delete_topics,
    private_topics,
    seed_registry,
    service_process,
    warning,
)
from tests.processes import ServiceProcess
from tests.support import Infra, eventually

BLOCKS = [f"block-{n:02}" for n in range(1, 19)]
MIN_AGE = 60


def registry(
    households: int, volunteers: int, elderly_share: float, seed: int = 11
) -> tuple[list[c.RegisterHousehold], list[c.RegisterVolunteer]]:
    rng = random.Random(seed)
    homes = []
    for n in range(households):
        block = BLOCKS[n % len(BLOCKS)]
        oldest = rng.randint(MIN_AGE, 98) if rng.random() < elderly_share else rng.randint(20, 59)
        ages = [oldest, *(rng.randint(1, oldest) for _ in range(rng.randint(0, 3)))]
        homes.append(
            c.RegisterHousehold.model_validate(
                {
                    "household_id": f"hh-{n:05}",
                    "block": block,
                    "address": f"No. {n} Road, {block}",
                    "members": [{"name": f"m{k}", "age": a} for k, a in enumerate(ages)],
                    "business_type": rng.choice([None] * 9 + ["catering", "gold_shop"]),
                    "lives_alone_elderly": oldest >= 70 and rng.random() < 0.2,
                    "prior_fraud_victim": rng.random() < 0.03,
                }
            )
        )
    organisations = ["bank", "womens_federation", "community", "grid_worker", "volunteer"]
    people = [
        c.RegisterVolunteer.model_validate(
            {
                "volunteer_id": f"vol-{n:04}",
                "name": f"vol-{n:04}",
                "organisation": rng.choice(organisations),
                "blocks": sorted({BLOCKS[n % 18], BLOCKS[(n + rng.randint(0, 1)) % 18]}),
                "phone": "13800000000",
                "max_open_visits": rng.randint(10, 25),
            }
        )
        for n in range(volunteers)
    ]
    return homes, people


async def send_warning(bootstrap: str, topic: str, event_bytes: bytes, key: bytes) -> int:
    """Produce the warning; return its broker timestamp (ms)."""
    producer = AIOKafkaProducer(**client_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, event_bytes, key=key, headers=kafka_headers())
        return int(sent.timestamp)
    finally:
        await producer.stop()


async def read_events(
    bootstrap: str, topic: str, campaign_id: str, until: int
) -> list[tuple[int, dict[str, Any]]]:
    """The campaign's events with their broker timestamps, once `until` visit_assigned are in."""
    consumer = AIOKafkaConsumer(**client_options(bootstrap), group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(DEFAULT_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[tuple[int, dict[str, Any]]] = []
        assigned = 0
        while assigned < until:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["data"].get("campaign_id") != campaign_id:
                        continue
                    found.append((record.timestamp, event))
                    assigned += event["type"] == "outreach.visit_assigned"
        return found
    finally:
        await consumer.stop()


def line(service: ServiceProcess, event: str, **fields: object) -> dict[str, Any] | None:
    for found in service.events():
        if found.get("event") == event and all(found.get(k) == v for k, v in fields.items()):
            return dict(found)
    return None


async def timer_cost(url: str, samples: int) -> float:
    """Seconds to schedule one durable timer on this server (the kit's upsert)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    name = f"bench_outreach_timers_{uuid.uuid4().hex[:8]}"
    timers = Timers(client[name]["timers"], service="outreach", clock=SystemClock(), owner="b")
    due = datetime.now(UTC) + timedelta(days=2)
    try:
        started = time.perf_counter()
        for n in range(samples):
            await timers.schedule(f"visit-{n}", c.BlockDue(block="block-01"), due_at=due)
        return (time.perf_counter() - started) / samples
    finally:
        await client.drop_database(name)
        await client.close()


async def campaign(
    infra: Infra, service: ServiceProcess, prefix: str, database: str, scheme: str
) -> int:
    """One warning for every elderly person: its figures printed; the assignments made."""
    command = as_event(warning(f"w-{prefix}-{scheme}", scheme, blocks=[], min_age=MIN_AGE))
    assert command.key is not None
    sent_ms = await send_warning(
        infra.kafka_bootstrap_servers, f"{prefix}.intake", command.to_bytes(), command.key
    )

    async def handled() -> bool:
        return line(service, "event_received", event_id=command.id) is not None

    await eventually(handled, timeout_s=1800, what="the warning handled")
    planned = line(service, "campaign_planned", scheme=scheme)
    received = line(service, "event_received", event_id=command.id)
    assert planned is not None
    assert received is not None
    expected = int(planned["visits_planned"]) - int(planned["waiting"])
    events = await read_events(
        infra.kafka_bootstrap_servers, f"{prefix}.events", planned["campaign_id"], expected
    )
    assigned = [(ts, e) for ts, e in events if e["type"] == "outreach.visit_assigned"]
    gaps = [e for _, e in events if e["type"] == "outreach.coverage_gap_detected"]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    doc = await client[database]["roster"].find_one({"_id": ROSTER_ID})
    await client.close()
    assert doc is not None
    roster = RosterState.model_validate(doc["state"])
    first_ms, last_ms = min(ts for ts, _ in assigned), max(ts for ts, _ in assigned)
    steps = ", ".join(
        f"{k} {planned[k]:.0f}" for k in ("read_ms", "reserve_ms", "blocks_ms", "settle_ms")
    )
    print(
        f"{scheme}: households targeted {planned['households_targeted']}, visits planned "
        f"{planned['visits_planned']}\n"
        f"  warning → last visit_assigned   {(last_ms - sent_ms) / 1000:8.2f} s\n"
        f"  warning → first visit_assigned  {(first_ms - sent_ms) / 1000:8.2f} s\n"
        f"  handler steps (ms): {steps}; whole handling, publishing and marking sent "
        f"included: {float(received['latency_ms']) / 1000:.2f} s\n"
        f"  assignments {len(assigned)} (distinct visits "
        f"{len({e['data']['visit_id'] for _, e in assigned})}), coverage gaps {len(gaps)} "
        f"({sum(g['data']['households_unassigned'] for g in gaps)} households waiting)\n"
        f"  open visits now: largest held {max(v.open_visits for v in roster.volunteers)}, "
        f"largest maximum {max(v.max_open_visits for v in roster.volunteers)}, volunteers "
        f"over their maximum {sum(v.open_visits > v.max_open_visits for v in roster.volunteers)}"
        f", open visits in all {sum(v.open_visits for v in roster.volunteers)}"
    )
    relayed = [e for e in service.events() if e.get("event") == "outbox_relayed"]
    if relayed:
        count = sum(int(str(e["events"])) for e in relayed)
        print(
            f"  (so far the outbox relay re-published {count} events of {len(relayed)} "
            "documents it found waiting)"
        )
    retried = [e for e in service.events() if e.get("event") == "transient_failure"]
    if retried:
        print(f"  retried after an outage: {len(retried)} (first: {retried[0].get('error')})")
    return len(assigned)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=36_000)
    parser.add_argument("--volunteers", type=int, default=2_000)
    parser.add_argument("--elderly-share", type=float, default=0.6)
    parser.add_argument("--timer-samples", type=int, default=300)
    args = parser.parse_args()
    infra = Infra(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"], "environment")
    suffix = uuid.uuid4().hex[:8]
    prefix, database = f"outreach-bench-{suffix}", f"outreach_bench_{suffix}"
    topics = await private_topics(infra, prefix)
    homes, people = registry(args.households, args.volunteers, args.elderly_share)
    service = service_process(infra, prefix, database)
    try:
        started = time.perf_counter()
        await seed_registry(infra.mongodb_url, database, homes, people)
        print(
            f"registry seeded: {len(homes)} households, {len(people)} volunteers "
            f"({time.perf_counter() - started:.1f} s)"
        )
        await service.start()
        await service.wait_ready(timeout_s=60)
        # the first campaign writes fresh block documents; the second rewrites them with
        # the first one's visits inside, and runs out of room (coverage gaps)
        first = await campaign(infra, service, prefix, database, "elderly_care_investment")
        await campaign(infra, service, prefix, database, "fake_refund")
        await service.stop(timeout_s=60)
    finally:
        await service.kill()
        await drop_database(infra.mongodb_url, database)
        await delete_topics(infra, topics)
    per_timer = await timer_cost(infra.mongodb_url, args.timer_samples)
    print(
        f"one durable timer per visit: {per_timer * 1000:.1f} ms each, "
        f"{per_timer * first:.0f} s for the first campaign's {first} visits "
        f"(this service: one per block and 15 min slice, {len(BLOCKS)} per campaign here)"
    )


if __name__ == "__main__":
    asyncio.run(main())
