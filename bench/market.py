"""Benchmark the redistribution planner's candidate lookup: the in-memory market view.

    uv run python -m bench.market [--enterprises 10000 --demands 1000 --plans 500]

Needs MONGODB_URL (e.g. `eval "$(scripts/infra env)"`). Seeds a database of its own with
`--enterprises` enterprises stored as the service stores them, `--demands` of them with an
open demand for butanone; then times, on the real FerretDB:
- the query the planner used before the view (`state.demand.<cas>` > 0, which FerretDB
  answers by reading every enterprise), a few times;
- a plan as the service makes it now: the market's candidates for the chemical (built
  from one query the first time, then kept in memory) and the matcher over them, with an
  enterprise's demand changing between plans as stored changes do (`watch`).
Prints p50/p99 of each.
"""

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from bench.common import drop_database
from services.enterprise.market import Market
from services.enterprise.matcher import Location, plan_redistribution
from services.enterprise.state import EnterpriseState
from shared import AggregateStore
from shared._kit.clock import SystemClock

BUTANONE = "78-93-3"


def enterprise(n: int, with_demand: bool) -> EnterpriseState:
    rnd = random.Random(n)
    return EnterpriseState.model_validate(
        {
            "enterprise_id": f"ent-{n:05}",
            "name": f"企业 {n}",
            "address": "丽水",
            "location": {"lat": 28.2 + rnd.random() * 0.6, "lon": 119.6 + rnd.random() * 0.6},
            "licences": ["drug_precursor_3", "hazardous"],
            "liaison_officer": {"officer_id": "o", "name": "吕", "phone": "13800000000"},
            "contact": {"name": "c", "phone": "13900000000"},
            "storage": {BUTANONE: 50_000.0},
            "stock": {BUTANONE: 1_000.0},
            "demand": {BUTANONE: float(rnd.randint(1, 20) * 1000)} if with_demand else {},
        }
    )


def quantiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49]:8.2f} ms   p99 {q[98]:8.2f} ms   ({len(samples)} runs)"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--demands", type=int, default=1_000)
    parser.add_argument("--plans", type=int, default=500)
    args = parser.parse_args()
    url = os.environ["MONGODB_URL"]
    database = f"bench_market_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    try:
        collection = client[database]["enterprises"]
        wanted = set(random.Random(1).sample(range(args.enterprises), args.demands))
        docs: list[dict[str, object]] = [
            {
                "_id": f"ent-{n:05}",
                "version": 1,
                "state": enterprise(n, n in wanted).model_dump(mode="json"),
                "inbox": [],
                "outbox": [],
                "outbox_since": None,
            }
            for n in range(args.enterprises)
        ]
        started = time.perf_counter()
        for start in range(0, len(docs), 500):
            await collection.insert_many(docs[start : start + 500])
        print(
            f"seeded {args.enterprises} enterprises, {args.demands} with a demand, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        store = AggregateStore(collection, EnterpriseState, clock=SystemClock())

        scans = []
        for _ in range(5):
            t = time.perf_counter()
            found = await store.find({f"state.demand.{BUTANONE}": {"$gt": 0}})
            scans.append((time.perf_counter() - t) * 1000)
        print(f"query on state.demand (before the view), {len(found)} found: {quantiles(scans)}")

        market = Market(store, now=lambda: datetime.now(UTC), refresh_s=3600)
        t = time.perf_counter()
        await market.candidates(BUTANONE)
        built_ms = (time.perf_counter() - t) * 1000
        print(f"market view built (one query): {built_ms:8.2f} ms")
        rnd = random.Random(2)
        plans = []
        for i in range(args.plans):
            changed = enterprise(rnd.choice(sorted(wanted)), True)  # a stored change, watched
            market._changed(changed.enterprise_id, changed)  # as `watch` does
            t = time.perf_counter()
            candidates = await market.candidates(BUTANONE)
            plan = plan_redistribution(
                source_enterprise_id=f"ent-{i % args.enterprises:05}",
                origin=Location(28.45, 119.92),
                categories={"drug_precursor_3"},
                surplus_kg=10_000.0,
                candidates=candidates,
                max_distance_km=50.0,
            )
            plans.append((time.perf_counter() - t) * 1000)
        print(
            f"plan (market candidates + matcher over {len(candidates)}, "
            f"{len(plan.transfers)} placements): {quantiles(plans)}"
        )
    finally:
        await client.close()
        await drop_database(url, database)


if __name__ == "__main__":
    asyncio.run(main())
