"""Benchmark the mediation service: a burst of disputes onto a station already busy.

    uv run python -m bench.mediation [--mediators 200 --open-cases 5000 --burst 1000]

Needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL (e.g. `eval "$(scripts/infra env)"`).
Seeds a database of its own with the mediators and the open cases (assigned with the
service's own ranking, with their deadlines and the sweep planned), starts the service as a
process in a consumer group of its own at the end of the shared topics, reports the
burst at once on mediation.intake, and prints: the time from the first report to the
last `mediator_assigned`; how many were assigned and escalated; the highest load against
its maximum (and any mediator above it); the handlers' latencies; the time `/stats` takes.
"""

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.common import drop_database, handled, report
from services.mediation.assignment import rank_mediators
from services.mediation.deadlines import Deadlines
from services.mediation.messages import CATEGORIES, Category, MediatorKind
from services.mediation.state import CaseState, MediatorState, SweepPlan, WaitingList
from services.mediation.store import MediationStore
from shared import AggregateStore, Context
from shared._kit.clock import SystemClock
from shared._kit.envelope import CloudEvent
from shared._kit.timers import Timers
from tests.processes import ServiceProcess
from tests.support import EventTail, command, produce, start_group_at_end

TOPICS = ["mediation.intake", "mediation.events", "outreach.events"]
BLOCKS = [f"block-{n:02}" for n in range(1, 19)]
# how disputes spread over the categories (construction and wages most often)
WEIGHTS = dict(zip(CATEGORIES, [18, 16, 14, 16, 10, 10, 8, 8], strict=True))
# of 200 mediators: 8 station full-time, 110 community, 60 village, 12 lawyers, 10 police
KINDS: dict[MediatorKind, int] = {"station_full_time": 8, "community": 110, "village": 60}
KINDS |= {"lawyer": 12, "police_officer": 10}


def category(rng: random.Random) -> Category:
    chosen: Category = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]  # type: ignore[assignment]
    return chosen


def mediators(count: int, suffix: str, rng: random.Random) -> list[MediatorState]:
    kinds = [kind for kind, share in KINDS.items() for _ in range(share)]
    found = []
    for n in range(count):
        kind = kinds[n * len(kinds) // count]
        serves = rng.sample(BLOCKS, rng.randint(1, 2)) if kind in ("community", "village") else []
        found.append(
            MediatorState(
                mediator_id=f"med-{suffix}-{n:03}",
                name=f"mediator {n}",
                kind=kind,
                specialties=sorted(rng.sample(CATEGORIES, rng.randint(2, 4))),  # type: ignore[arg-type]
                blocks=serves,
                phone="13800000000",
                max_active_cases=rng.randint(25, 35),
            )
        )
    return found


def dispute(n: int, suffix: str, rng: random.Random, now: datetime) -> CaseState:
    opened = now - timedelta(days=rng.uniform(0, 20))
    return CaseState(
        case_id=f"case-d-{suffix}-{n:05}",
        dispute_id=f"d-{suffix}-{n:05}",
        category=category(rng),
        source=rng.choice(["walk_in", "hotline", "police_call"]),
        block=rng.choice(BLOCKS),
        urgency="high" if rng.random() < 0.1 else "normal",
        parties=[],
        description="seeded",
        opened_at=opened,
        session_due_at=opened + timedelta(hours=72),
        target_due_at=opened + timedelta(days=30),
    )


async def seed(
    db: Any, suffix: str, mediator_count: int, open_cases: int
) -> tuple[list[MediatorState], int]:
    """Mediators and open cases, assigned by the service's own ranking; the sweep planned."""
    rng, clock = random.Random(11), SystemClock()
    roster = {m.mediator_id: m for m in mediators(mediator_count, suffix, rng)}
    cases: list[CaseState] = []
    n = 0
    while len(cases) < open_cases:
        case = dispute(n, suffix, rng, clock.now())
        n += 1
        ranked = rank_mediators(case, roster.values())
        if not ranked:
            continue
        chosen = ranked[0].mediator
        held = [*chosen.active_cases, case.case_id]
        roster[chosen.mediator_id] = chosen.model_copy(update={"active_cases": held})
        cases.append(
            case.model_copy(
                update={"status": "in_mediation", "mediator_id": chosen.mediator_id, "sessions": 1}
            )
        )
    timers = Timers(db["timers"], service="mediation", clock=clock, owner="bench")
    ctx = Context.of(command("bench.seed", suffix, {}), source="/bench", clock=clock, timers=timers)
    store = MediationStore(
        AggregateStore(db["mediators"], MediatorState, clock=clock),
        AggregateStore(db["cases"], CaseState, clock=clock),
        AggregateStore(db["sweep_plans"], SweepPlan, clock=clock),
        AggregateStore(db["waiting_lists"], WaitingList, clock=clock),
    )
    await store.mediators.create_many(ctx, [(m.mediator_id, m, ()) for m in roster.values()])
    await store.cases.create_many(ctx, [(c.case_id, c, ()) for c in cases])
    # the sweep of the earliest deadline, as the service plans it
    earliest = min(cases, key=lambda c: c.next_due_s or 0)
    await Deadlines(store, timedelta(minutes=1)).plan(ctx, earliest)
    return list(roster.values()), n


def reports(burst: int, suffix: str, first: int) -> list[CloudEvent]:
    rng = random.Random(13)
    out = []
    for n in range(first, first + burst):
        did = f"d-{suffix}-{n:05}"
        out.append(
            command(
                "mediation.report_dispute",
                did,
                {
                    "dispute_id": did,
                    "source": rng.choice(["walk_in", "hotline", "police_call"]),
                    "category": category(rng),
                    "parties": [{"name": "applicant", "role": "applicant"}],
                    "description": "burst",
                    "block": rng.choice(BLOCKS),
                    "urgency": "high" if rng.random() < 0.1 else "normal",
                },
            )
        )
    return out


@dataclass(frozen=True)
class Run:
    """One run: the shared infrastructure, and the group, database and ids of its own."""

    bootstrap: str
    url: str
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def group(self) -> str:
        return f"mediation-bench-{self.suffix}"

    @property
    def database(self) -> str:
        return f"mediation_bench_{self.suffix}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mediators", type=int, default=200)
    parser.add_argument("--open-cases", type=int, default=5_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--timeout-s", type=float, default=5_400)
    args = parser.parse_args()
    run = Run(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"])
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(run.url, tz_aware=True)
    db = client[run.database]
    try:
        t0 = time.perf_counter()
        roster, next_n = await seed(db, run.suffix, args.mediators, args.open_cases)
        capacity = sum(m.max_active_cases for m in roster)
        print(
            f"seeded {len(roster)} mediators (capacity {capacity}) and {args.open_cases} open"
            f" cases, with their deadlines, in {time.perf_counter() - t0:.1f} s"
        )
        await start_group_at_end(run.bootstrap, run.group, TOPICS)
        commands = reports(args.burst, run.suffix, next_n)
        stats, stats_s = await burst(run, commands, args.timeout_s)
        await check_loads(db, stats, stats_s)
    finally:
        await client.close()
        await drop_database(run.url, run.database)


def received(service: ServiceProcess, event_type: str) -> int:
    """How many messages of a type the service has handled, from its log lines."""
    lines = [e for e in service.events() if e["event"] == "event_received"]
    return sum(e["event_type"] == f"mediation.{event_type}" for e in lines)


async def until_settled(
    outcomes: Callable[[], dict[str, Any]], count: int, timeout_s: float
) -> None:
    """Wait for every case's outcome (printing progress each minute), or the deadline."""
    started = last = time.monotonic()
    while len(outcomes()) < count and time.monotonic() - started < timeout_s:
        await asyncio.sleep(1)  # a benchmark pacing its progress lines, not a test
        if time.monotonic() - last >= 60:
            last = time.monotonic()
            print(f"  {time.monotonic() - started:6.0f} s: {len(outcomes())}/{count} settled")
    if len(outcomes()) < count:
        print(f"NOT SETTLED within {timeout_s:.0f} s: {len(outcomes())}/{count}")


async def burst(
    run: Run, commands: list[CloudEvent], timeout_s: float
) -> tuple[dict[str, Any], float]:
    """The service as a process takes the burst; print its figures; return /stats."""
    count = len(commands)
    service = ServiceProcess(
        "mediation",
        {
            "KAFKA_BOOTSTRAP_SERVERS": run.bootstrap,
            "MONGODB_URL": run.url,
            "MEDIATION_CONSUMER_GROUP": run.group,
            "MEDIATION_MONGODB_DATABASE": run.database,
        },
    )
    case_ids = {f"case-{c.subject}" for c in commands}
    async with EventTail(run.bootstrap, "mediation.events") as tail:

        def outcomes() -> dict[str, dict[str, Any]]:
            return {
                e["data"]["case_id"]: e
                for e in tail.events
                if e["data"].get("case_id") in case_ids
                and (
                    e["type"] == "mediation.mediator_assigned"
                    or e["data"].get("reason") == "no_mediator_available"
                )
            }

        await service.start()
        try:
            await service.wait_ready()
            started = datetime.now(UTC)
            await produce(
                run.bootstrap, "mediation.intake", [(c.key, c.to_bytes()) for c in commands]
            )
            sent = datetime.now(UTC)
            await until_settled(outcomes, count, timeout_s)
            seen = datetime.now(UTC)
            opened_s, opened_ms = await handled(
                service, received(service, "report_dispute"), "mediation.report_dispute"
            )
            assigned_s, assigned_ms = await handled(
                service, received(service, "case_opened"), "mediation.case_opened"
            )
            async with httpx.AsyncClient(timeout=60) as http:
                t0 = time.perf_counter()
                stats = (await http.get(f"http://127.0.0.1:{service.port}/stats")).json()
                stats_s = time.perf_counter() - t0
            await service.stop()
        finally:
            await service.kill()
    found = list(outcomes().values())
    assigned = [e for e in found if e["type"] == "mediation.mediator_assigned"]
    last = max(datetime.fromisoformat(e["time"]) for e in assigned) if assigned else started
    print(f"burst of {count} report_dispute produced in {(sent - started).total_seconds():.2f} s")
    print(
        f"first report -> last mediator_assigned    {(last - started).total_seconds():8.1f} s"
        f"   (all {count} outcomes read back after {(seen - started).total_seconds():.1f} s)"
    )
    print(f"assigned {len(assigned)}, escalated no_mediator_available {len(found) - len(assigned)}")
    report("report_dispute (case opened)", len(opened_ms), opened_s, opened_ms)
    report("case_opened (mediator assigned)", len(assigned_ms), assigned_s, assigned_ms)
    return stats, stats_s


async def check_loads(db: Any, stats: dict[str, Any], stats_s: float) -> None:
    """Every mediator's load against their maximum, as stored, and the cases they hold."""
    mediators = [MediatorState.model_validate(d["state"]) async for d in db["mediators"].find()]
    holders = {c: m.mediator_id for m in mediators for c in m.active_cases}
    mismatched = 0
    async for doc in db["cases"].find({"state.mediator_id": {"$ne": None}}):
        state = doc["state"]
        mismatched += holders.get(state["case_id"]) != state["mediator_id"]
    fullest = max(mediators, key=lambda m: (m.load / max(m.max_active_cases, 1), m.load))
    above = [m.mediator_id for m in mediators if m.load > m.max_active_cases]
    highest = max(mediators, key=lambda m: m.load)
    print(
        f"max load {highest.load} ({highest.mediator_id}, its maximum {highest.max_active_cases});"
        f" fullest {fullest.mediator_id} {fullest.load}/{fullest.max_active_cases};"
        f" mediators above their maximum: {len(above)}; full: "
        f"{sum(m.load >= m.max_active_cases for m in mediators)}/{len(mediators)}"
    )
    print(f"cases whose mediator does not hold their slot: {mismatched}")
    print(
        f"/stats over {stats['cases']} cases answered in {stats_s:.2f} s:"
        f" open {stats['cases_open']}, by state {stats['cases_by_state']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
