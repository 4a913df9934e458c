"""The SLA deadlines of every case, acted on by sweeps: one durable timer for all the cases.

Each case keeps its own deadlines in its state (a first session, the one-month target,
each term's due date) and the earliest of them as `next_due_s`. Instead of a timer per
case (and per term), a chain of sweeps runs: the next sweep is planned at the earliest
deadline of all the cases (rounded up to `sla_granularity_s`), recorded in one small
document (`SweepPlan`) changed by compare-and-set, so a case whose deadline comes before
the planned sweep plans an earlier one, and only then. A sweep acts on every case due by
then (a step per case, idempotent) and plans the next.

Why: the kit's timer loop claims due timers twice a second with a conditional update
(`find_one_and_update` on state and due time) that FerretDB v1.24 answers by reading the
whole timers collection, under the proxy's per-database write lock: measured 250 ms per
claim with 1,000 pending timers, so a timer per open case (5,000 and more) would keep the
database locked. Here the timers collection holds about one pending timer.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.mediation import sessions
from services.mediation.assigning import release_slot
from services.mediation.messages import DeadlinesDue
from services.mediation.state import CaseState, SweepPlan
from services.mediation.store import MediationStore
from shared import Change, Context

PLAN_ID = "next"
# cases acted on by one sweep; more are left to a sweep planned at once, so one timer's
# handler stays well within its lease (30 s by default)
SWEEP_BATCH = 50


def plan_sweep(
    state: SweepPlan | None, at: datetime, now: datetime, timer_id: str
) -> Change[SweepPlan] | None:
    """A sweep at `at` is needed unless one is planned between now and then (a planned
    time already past is a sweep under way or lost: it does not count)."""
    planned = state.next_at if state is not None else None
    if planned is not None and now < planned <= at:
        return None
    return Change(SweepPlan(next_at=at, timer_id=timer_id))


@dataclass
class _Seen:
    """The planned sweep as this process last read or wrote it."""

    next_at: datetime | None = None


@dataclass(frozen=True)
class Deadlines:
    """Plans the sweeps and runs them."""

    store: MediationStore
    granularity: timedelta
    # a sweep known to be planned in the future stays planned (its timer is durable and
    # it reads every case when it runs), so a later deadline needs no read of the plan
    _seen: _Seen = field(default_factory=_Seen)

    def rounded(self, at: datetime, now: datetime) -> datetime:
        """The sweep time for a deadline: rounded up to the granularity, never past."""
        step = self.granularity.total_seconds()
        seconds = math.ceil(max(at, now).timestamp() / step) * step
        return datetime.fromtimestamp(seconds, UTC)

    async def plan(self, ctx: Context, case: CaseState | None) -> None:
        """After a change that may bring a case's next deadline forward."""
        if case is not None and case.next_due_s is not None:
            await self._plan(ctx, datetime.fromtimestamp(case.next_due_s, UTC))

    async def _plan(self, ctx: Context, due: datetime) -> None:
        now = ctx.now()
        at = self.rounded(due, now)
        known = self._seen.next_at
        if known is not None and now < known <= at:
            return
        step = ctx.step(f"plan-sweep:{at.isoformat()}")
        # the id names the cause, so a sweep that ran is never shadowed by a new one at
        # the same time (a fired timer's id is remembered as handled)
        timer_id = f"sweep:{step.derive('timer')}"
        planned = await self.store.plans.apply(
            PLAN_ID, step, lambda state: plan_sweep(state, at, now, timer_id)
        )
        if planned.state is None:
            return
        if planned.state.timer_id == timer_id:
            await ctx.schedule(timer_id, DeadlinesDue(at=at), at=at)
        self._seen.next_at = planned.state.next_at  # once its timer exists

    async def deadlines_due(self, due: DeadlinesDue, ctx: Context) -> None:
        """A sweep: every case due by now is acted on; the next sweep is planned."""
        now = ctx.now()
        cutoff = math.floor(now.timestamp())
        due_ids, later = await self.store.deadlines(cutoff)
        upcoming = [] if later is None else [later]
        for case_id in due_ids[:SWEEP_BATCH]:
            swept = await self.store.cases.apply(
                case_id,
                ctx.step(f"due:{case_id}"),
                lambda state: sessions.deadlines_passed(state, now=now),
            )
            case = swept.state
            if case is None:
                continue
            if case.next_due_s is not None and case.next_due_s > cutoff:
                upcoming.append(case.next_due_s)  # its next deadline, after this one
            if not case.is_open and case.mediator_id is not None:
                await release_slot(self.store, case.mediator_id, case_id, ctx)
        if len(due_ids) > SWEEP_BATCH:
            await self._plan(ctx, now)
        elif upcoming:
            await self._plan(ctx, datetime.fromtimestamp(min(upcoming), UTC))
