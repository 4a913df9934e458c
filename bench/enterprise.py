"""Benchmark the enterprise service: plan time and sustained declare_inventory throughput.

    uv run python -m bench.enterprise [--enterprises 10000 --demands 1000 --declarations 2000]

Needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL (e.g. `eval "$(scripts/infra env)"`).
Prints p50/p99 of: the matcher alone over the enterprises with open demand; the candidate
query on the MongoDB-compatible server with every enterprise registered; and one service
process handling declare_inventory commands, with its throughput.
"""

import argparse
import asyncio
import os
import random
import time
import uuid

from pymongo import AsyncMongoClient

from bench.common import drop_database, handled, report
from bench.open_loop import registration
from services.enterprise.matcher import Candidate, Location, plan_redistribution
from services.enterprise.state import AlertState, EnterpriseState, TransferState
from services.enterprise.store import EnterpriseStore
from shared import AggregateStore
from shared._kit.clock import SystemClock
from tests.processes import ServiceProcess
from tests.support import command, produce, start_group_at_end

BUTANONE = "78-93-3"
CAT3 = ["drug_precursor_3", "hazardous"]
ORIGIN = Location(28.45, 119.92)


def _state(n: int, rng: random.Random, with_demand: bool) -> dict[str, object]:
    return {
        "enterprise_id": f"ent-{n:05}",
        "name": f"ent-{n:05}",
        "address": "Lishui",
        "liaison_officer": {"officer_id": "o", "name": "Lü", "phone": "13800000001"},
        "contact": {"name": "c", "phone": "13900000002"},
        "location": {
            "lat": ORIGIN.lat + rng.uniform(-0.6, 0.6),
            "lon": ORIGIN.lon + rng.uniform(-0.6, 0.6),
        },
        "licences": CAT3 if rng.random() < 0.8 else ["hazardous"],
        "storage": {BUTANONE: rng.uniform(1_000, 30_000)},
        "stock": {BUTANONE: rng.uniform(0, 1_000)},
        "demand": {BUTANONE: rng.uniform(100, 5_000)} if with_demand else {},
        "promises": {},
        "open_alerts": {},
    }


def matcher_time(demands: int, runs: int = 300) -> None:
    rng = random.Random(1)
    candidates = [
        Candidate(
            f"ent-{n:05}",
            "x",
            Location(ORIGIN.lat + rng.uniform(-0.6, 0.6), ORIGIN.lon + rng.uniform(-0.6, 0.6)),
            frozenset(CAT3),
            rng.uniform(0, 9_000),
            rng.uniform(100, 5_000),
        )
        for n in range(demands)
    ]
    latencies = []
    started = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        plan_redistribution(
            source_enterprise_id="ent-src",
            origin=ORIGIN,
            categories=frozenset(CAT3),
            surplus_kg=10_000,
            candidates=candidates,
            max_distance_km=50,
        )
        latencies.append((time.perf_counter() - t0) * 1000)
    report(f"matcher over {demands} open demands", runs, time.perf_counter() - started, latencies)


async def candidate_query(url: str, enterprises: int, demands: int, runs: int = 20) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    db = client[f"bench_enterprise_{uuid.uuid4().hex[:8]}"]
    rng = random.Random(2)
    try:
        with_demand = set(rng.sample(range(enterprises), demands))
        docs: list[dict[str, object]] = [
            {
                "_id": f"ent-{n:05}",
                "version": 1,
                "inbox": [],
                "outbox": [],
                "outbox_since": None,
                "state": _state(n, rng, n in with_demand),
            }
            for n in range(enterprises)
        ]
        for i in range(0, len(docs), 1000):
            await db.enterprises.insert_many(docs[i : i + 1000])
        clock = SystemClock()
        store = EnterpriseStore.of(
            AggregateStore(db["enterprises"], EnterpriseState, clock=clock),
            AggregateStore(db["alerts"], AlertState, clock=clock),
            AggregateStore(db["transfers"], TransferState, clock=clock),
            now=clock.now,
        )
        latencies = []
        started = time.perf_counter()
        for _ in range(runs):
            t0 = time.perf_counter()
            found = await store.candidates(BUTANONE)
            latencies.append((time.perf_counter() - t0) * 1000)
            assert len(found) == demands, len(found)
        report(
            f"candidate query, {enterprises} registered",
            runs,
            time.perf_counter() - started,
            latencies,
        )
    finally:
        await client.drop_database(db.name)
        await client.close()


async def declare_inventory(bootstrap: str, url: str, declarations: int) -> None:
    suffix = uuid.uuid4().hex[:8]
    group, database = f"enterprise-bench-{suffix}", f"enterprise_bench_{suffix}"
    await start_group_at_end(bootstrap, group, ["enterprise.intake", "enterprise.events"])
    service = ServiceProcess(
        "enterprise",
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MONGODB_URL": url,
            "ENTERPRISE_CONSUMER_GROUP": group,
            "ENTERPRISE_MONGODB_DATABASE": database,
        },
    )
    ids = [f"bench-{suffix}-{n:03}" for n in range(100)]
    registrations = [registration(eid, CAT3, BUTANONE, 1_000_000) for eid in ids]
    stocktakes = [
        command(
            "enterprise.declare_inventory",
            ids[n % 100],
            {
                "enterprise_id": ids[n % 100],
                "cas": BUTANONE,
                "movement": "stocktake",
                "quantity_kg": n % 1000,
            },
        )
        for n in range(declarations)
    ]
    await service.start()
    try:
        await service.wait_ready()
        await produce(
            bootstrap, "enterprise.intake", [(c.key, c.to_bytes()) for c in registrations]
        )
        await handled(service, len(ids), "enterprise.register_enterprise")
        await produce(bootstrap, "enterprise.intake", [(c.key, c.to_bytes()) for c in stocktakes])
        elapsed, latencies = await handled(service, declarations, "enterprise.declare_inventory")
        await service.stop()
    finally:
        await service.kill()
        await drop_database(url, database)
    report("declare_inventory, one service process", declarations, elapsed, latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--demands", type=int, default=1_000)
    parser.add_argument("--declarations", type=int, default=2_000)
    args = parser.parse_args()
    bootstrap, url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"]
    matcher_time(args.demands)
    await candidate_query(url, args.enterprises, args.demands)
    await declare_inventory(bootstrap, url, args.declarations)


if __name__ == "__main__":
    asyncio.run(main())
