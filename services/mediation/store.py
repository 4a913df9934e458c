"""The mediation collections: mediators, cases, the waiting list and the sweep plan, each an
aggregate store; the roster of mediators this process ranks from; the queries."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.mediation.figures import STATS_FIELDS, case_figures
from services.mediation.state import (
    CaseState,
    MediatorState,
    SweepPlan,
    WaitingList,
)
from shared import AggregateStore, Change, Context, Runtime

# how long the roster is trusted before it is read again: the loads of this process's own
# reservations are exact at once, another replica's within this long (the slot itself is
# always taken by compare-and-set on the mediator's document, never from the roster)
ROSTER_TTL = timedelta(seconds=10)
WAITING_ID = "waiting"


@dataclass
class Roster:
    """Every mediator as this process last saw them, so ranking a case reads no document:
    on FerretDB a query over the mediators decodes every one of them (hundreds of ms)."""

    mediators: AggregateStore[MediatorState]
    _by_id: dict[str, MediatorState] = field(default_factory=dict)
    _read_at: datetime | None = None

    async def all(self, *, fresh: bool = False) -> list[MediatorState]:
        now = self.mediators.clock.now()
        if fresh or self._read_at is None or now - self._read_at > ROSTER_TTL:
            self._by_id = {m.mediator_id: m for m in await self.mediators.find({})}
            self._read_at = now
        return list(self._by_id.values())

    def saw(self, mediator: MediatorState | None) -> None:
        if mediator is not None:
            self._by_id[mediator.mediator_id] = mediator


MediatorDecision = Callable[[MediatorState | None], Change[MediatorState] | None]


@dataclass(frozen=True)
class MediationStore:
    mediators: AggregateStore[MediatorState]
    cases: AggregateStore[CaseState]
    plans: AggregateStore[SweepPlan]
    waiting: AggregateStore[WaitingList]
    roster: Roster = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roster", Roster(self.mediators))

    @classmethod
    def on(cls, runtime: Runtime[Any]) -> "MediationStore":
        return cls(
            runtime.store("mediators", MediatorState),
            runtime.store("cases", CaseState),
            runtime.store("sweep_plans", SweepPlan),
            runtime.store("waiting_lists", WaitingList),
        )

    async def change_mediator(
        self, mediator_id: str, ctx: Context, decide: MediatorDecision
    ) -> MediatorState | None:
        """Apply a decision to a mediator (compare-and-set); the roster sees the result."""
        applied = await self.mediators.apply(mediator_id, ctx, decide)
        self.roster.saw(applied.state)
        return applied.state

    async def mediator(self, mediator_id: str) -> MediatorState | None:
        """A mediator as stored now (the roster sees it too)."""
        found = await self.mediators.load(mediator_id)
        self.roster.saw(found)
        return found

    async def candidates(self, case: CaseState, *, fresh: bool = False) -> list[MediatorState]:
        """Mediators with the case's category among their specialties, and any holding a
        slot for it, from the roster (`fresh`: read again first)."""
        return [
            m
            for m in await self.roster.all(fresh=fresh)
            if case.category in m.specialties or case.case_id in m.active_cases
        ]

    async def holders(self, case_id: str) -> list[MediatorState]:
        """Mediators holding a slot for the case, as stored."""
        return await self.mediators.find({"state.active_cases": case_id})

    async def waiting_list(self) -> WaitingList:
        return await self.waiting.load(WAITING_ID) or WaitingList()

    async def deadlines(self, cutoff_s: int) -> tuple[list[str], int | None]:
        """The cases with a deadline passed by `cutoff_s` (epoch seconds), earliest first,
        and the earliest deadline after it (one read of the cases' deadlines only)."""
        pending = [
            (int(doc["state"]["next_due_s"]), str(doc["_id"]))
            async for doc in self.cases.collection.find(
                {"state.next_due_s": {"$ne": None}}, {"state.next_due_s": 1}
            )
        ]
        due = sorted(p for p in pending if p[0] <= cutoff_s)
        later = [s for s, _ in pending if s > cutoff_s]
        return [case_id for _, case_id in due], min(later) if later else None

    async def stats(self) -> dict[str, Any]:
        """The figures the station reports for mediation."""
        projection = {f"state.{name}": 1 for name in STATS_FIELDS}
        cases = [doc["state"] async for doc in self.cases.collection.find({}, projection)]
        mediators = await self.mediators.find({})
        return {
            **case_figures(cases),
            "mediators": len(mediators),
            "mediator_load": {
                m.mediator_id: {"active": m.load, "max": m.max_active_cases}
                for m in sorted(mediators, key=lambda m: m.mediator_id)
            },
        }
