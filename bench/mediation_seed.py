"""The station already busy, for `bench.mediation`: mediators of every kind over the 18
blocks, and open cases assigned by the service's own ranking, with their sweep planned."""

import random
from datetime import datetime, timedelta
from typing import Any

from services.mediation.assignment import rank_mediators
from services.mediation.deadlines import Deadlines
from services.mediation.messages import CATEGORIES, Category, MediatorKind
from services.mediation.state import CaseState, MediatorState, SweepPlan, WaitingList
from services.mediation.store import MediationStore
from shared import AggregateStore, Context
from shared._kit.clock import SystemClock
from shared._kit.timers import Timers
from tests.support import command

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
