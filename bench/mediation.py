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
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.common import drop_database, handled, report
from bench.mediation_seed import BLOCKS, category, seed
from services.mediation.state import MediatorState
from shared._kit.envelope import CloudEvent
from tests.processes import ServiceProcess
from tests.support import EventTail, command, produce, start_group_at_end

TOPICS = ["mediation.intake", "mediation.events", "outreach.events"]


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
