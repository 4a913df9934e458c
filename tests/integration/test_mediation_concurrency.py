"""Cases assigned at the same moment never take a mediator beyond their maximum (real FerretDB).

The handlers run in-process, concurrently, against the MongoDB-compatible server: a slot is
reserved with a compare-and-set on the mediator's own document, and the case records its
mediator with another, whatever the interleaving.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.mediation.assigning import Assignment
from services.mediation.deadlines import Deadlines
from services.mediation.domain import Slas
from services.mediation.handlers import MediationHandlers
from services.mediation.messages import RegisterMediator, ReportDispute
from services.mediation.state import CaseState, MediatorState, SweepPlan, WaitingList
from services.mediation.store import MediationStore
from shared import AggregateStore, Context
from shared._kit.clock import ManualClock
from shared._kit.timers import Timers
from tests.support import command

pytestmark = pytest.mark.integration


class Station:
    """The mediation handlers on a database of their own, driven directly; each concurrent
    flow runs as a replica of its own (its own roster of mediators)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.clock = ManualClock(datetime(2026, 11, 28, 9, 30, tzinfo=UTC))
        self.timers = Timers(db["timers"], service="mediation", clock=self.clock, owner="test")
        self.store = self.replica_store()
        self.handlers = MediationHandlers(
            self.store,
            Slas(session_deadline=timedelta(hours=72), resolution_target=timedelta(days=30)),
            Deadlines(self.store, timedelta(minutes=1)),
            max_sessions_without_agreement=3,
        )

    def replica_store(self) -> MediationStore:
        return MediationStore(
            AggregateStore(self.db["mediators"], MediatorState, clock=self.clock),
            AggregateStore(self.db["cases"], CaseState, clock=self.clock),
            AggregateStore(self.db["sweep_plans"], SweepPlan, clock=self.clock),
            AggregateStore(self.db["waiting_lists"], WaitingList, clock=self.clock),
        )

    def ctx(self, subject: str) -> Context:
        event = command("mediation.test", subject, {})
        return Context.of(event, source="/services/mediation", clock=self.clock, timers=self.timers)

    async def mediator(self, mid: str, max_active_cases: int) -> None:
        cmd = RegisterMediator(
            mediator_id=mid,
            name=mid,
            kind="community",
            specialties=["neighbour"],
            phone="13800000001",
            max_active_cases=max_active_cases,
        )
        await self.handlers.register_mediator(cmd, self.ctx(mid))

    async def report(self, did: str) -> str:
        cmd = ReportDispute.model_validate(
            {
                "dispute_id": did,
                "source": "hotline",
                "category": "neighbour",
                "parties": [{"name": "Wang", "role": "applicant"}],
                "description": "a wall between two yards",
            }
        )
        await self.handlers.report_dispute(cmd, self.ctx(did))
        return f"case-{did}"

    async def assign(self, case_id: str, ctx: Context, store: MediationStore | None = None) -> None:
        """One replica's assignment flow for a case, as on its case_opened."""
        replica = store or self.store
        case = await replica.cases.load(case_id)
        assert case is not None
        await Assignment(replica).assign(case, ctx)

    async def assign_concurrently(self, case_ids: list[str], flows_per_case: int) -> list[Context]:
        contexts = [self.ctx(case_id) for case_id in case_ids for _ in range(flows_per_case)]
        await asyncio.gather(
            *(self.assign(str(c.event.subject), c, self.replica_store()) for c in contexts)
        )
        return contexts


def emitted(contexts: list[Context], event_type: str) -> list[dict[str, Any]]:
    return [
        e.data or {}
        for c in contexts
        for applied in c.applied
        for e in applied.events
        if e.type == event_type
    ]


@pytest.mark.parametrize("trial", range(5))
async def test_six_cases_at_once_for_the_last_slot_one_takes_it(
    mongo_db: AsyncDatabase[dict[str, Any]], trial: int
) -> None:
    station = Station(mongo_db)
    await station.mediator("lu", max_active_cases=3)
    for n in range(2):
        await station.assign(await station.report(f"old-{n}"), station.ctx(f"old-{n}"))
    new = [await station.report(f"new-{n}") for n in range(6)]

    contexts = await station.assign_concurrently(new, flows_per_case=1)

    lu = await station.store.mediators.load("lu")
    assert lu is not None
    assert lu.load == 3, "the last slot is taken once, never twice"
    assigned = emitted(contexts, "mediation.mediator_assigned")
    escalated = emitted(contexts, "mediation.case_escalated")
    assert len(assigned) == 1
    assert len(escalated) == 5
    assert {e["reason"] for e in escalated} == {"no_mediator_available"}
    assert assigned[0]["case_id"] in lu.active_cases


@pytest.mark.parametrize("trial", range(5))
async def test_two_flows_per_case_over_few_mediators_never_over_commit_nor_leak(
    mongo_db: AsyncDatabase[dict[str, Any]], trial: int
) -> None:
    station = Station(mongo_db)
    maxima = {"m-a": 2, "m-b": 2, "m-c": 1}
    for mid, maximum in maxima.items():
        await station.mediator(mid, maximum)
    cases = [await station.report(f"d-{n:02}") for n in range(12)]

    contexts = await station.assign_concurrently(cases, flows_per_case=2)

    mediators = {mid: await station.store.mediators.load(mid) for mid in maxima}
    states = [await station.store.cases.load(case_id) for case_id in cases]
    for mid, mediator in mediators.items():
        assert mediator is not None
        assert mediator.load == maxima[mid], "full, and never beyond"
        holding = sorted(s.case_id for s in states if s is not None and s.mediator_id == mid)
        assert sorted(mediator.active_cases) == holding, "a slot for each case it has, no other"
    assigned = emitted(contexts, "mediation.mediator_assigned")
    escalated = [e["case_id"] for e in emitted(contexts, "mediation.case_escalated")]
    assert len(assigned) == sum(maxima.values()) == len({a["case_id"] for a in assigned})
    assert len(escalated) == len(set(escalated)), "a waiting case is escalated once"
    unassigned = {s.case_id for s in states if s is not None and s.mediator_id is None}
    assert len(unassigned) == len(cases) - len(assigned)
    assert unassigned <= set(escalated), "every case left waiting was escalated"
