"""The mediation SLAs, driven by the clock (Scenario.advance), in seconds from the settings:
no session within the deadline, the one-month target, terms past due; acted on by sweeps
that one durable timer at a time carries for every case."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.mediation import deadlines
from services.mediation import messages as m
from services.mediation.app import SERVICE
from services.mediation.deadlines import plan_sweep
from services.mediation.state import SweepPlan
from shared.testing import Scenario
from tests.unit.test_mediation_rules import (
    AGREEMENT,
    case_state,
    check,
    dispute,
    load,
    lu,
    session,
    station,
)

DEFAULT_DEADLINE = timedelta(hours=72)
ONE_MONTH = timedelta(days=30)


async def test_no_session_within_72_hours_is_overdue_once() -> None:
    scenario = await station()
    opened = (await scenario.when(dispute("quiet"))).one(m.CaseOpened)

    early = await scenario.advance(DEFAULT_DEADLINE - timedelta(minutes=1))
    due = await scenario.advance(timedelta(minutes=2))
    later = await scenario.advance(timedelta(days=3))

    assert early.events == []
    overdue = due.one(m.SessionOverdue)
    assert (overdue.case_id, overdue.mediator_id) == ("case-quiet", "lu")
    assert overdue.opened_at == opened.opened_at
    assert overdue.due_at == opened.opened_at + DEFAULT_DEADLINE
    assert later.of(m.SessionOverdue) == [], "once"


async def test_the_deadlines_come_from_the_settings_in_seconds() -> None:
    scenario = await station(session_deadline_s=60, resolution_target_s=300)
    await scenario.given(dispute("fast"))

    due = await scenario.advance(timedelta(seconds=61))
    target = await scenario.advance(timedelta(seconds=240))

    assert due.one(m.SessionOverdue).case_id == "case-fast"
    escalated = target.one(m.CaseEscalated)
    assert (escalated.reason, escalated.referred_to) == ("overdue", "station")


async def test_a_session_in_time_cancels_the_deadline() -> None:
    scenario = await station()
    await scenario.given(dispute("prompt"))
    await scenario.given(session("case-prompt", "adjourned"))

    after = await scenario.advance(DEFAULT_DEADLINE + timedelta(hours=1))

    assert after.events == []
    case = await case_state(scenario, "case-prompt")
    assert case.target_due_at is not None
    assert case.next_due_s == int(case.target_due_at.timestamp()), "only the target is left"


async def test_a_case_waiting_for_a_mediator_is_overdue_too_with_no_mediator_named() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(dispute("orphan"))

    due = await scenario.advance(DEFAULT_DEADLINE + timedelta(seconds=1))

    assert due.one(m.SessionOverdue).mediator_id is None


async def test_a_case_open_after_one_month_is_escalated_and_its_slot_goes_to_a_waiting_case() -> (
    None
):
    scenario = Scenario(SERVICE)
    await scenario.given(lu(max_active_cases=1), dispute("slow"))
    await scenario.given(session("case-slow", "adjourned"))
    await scenario.advance(timedelta(days=20))
    await scenario.given(dispute("next"))

    month = await scenario.advance(ONE_MONTH - timedelta(days=20))

    escalated = month.one(m.CaseEscalated)
    assert (escalated.case_id, escalated.reason, escalated.mediator_id) == (
        "case-slow",
        "overdue",
        "lu",
    )
    assert month.one(m.MediatorAssigned).case_id == "case-next"
    assert await load(scenario, "lu") == ["case-next"]
    assert (await case_state(scenario, "case-slow")).days_open == 30.0


async def test_a_term_past_its_due_date_without_a_check_reminds_the_mediator_once() -> None:
    scenario = await station(resolution_target_s=90 * 86_400)
    await scenario.given(dispute("follow"))
    await scenario.given(session("case-follow", "agreement", terms=AGREEMENT))
    await scenario.given(check("case-follow", 1))  # Ye refitted the door (due June 15)
    # the scenario starts on 2026-06-03 09:30 UTC; Chen's payment is due on June 20
    to_june_20_end = datetime(2026, 6, 20, 16, 0, tzinfo=UTC) - scenario.clock.now()

    before = await scenario.advance(to_june_20_end - timedelta(minutes=1))
    after = await scenario.advance(timedelta(minutes=2))
    again = await scenario.advance(timedelta(days=5))

    assert before.events == []
    reminder = after.one(m.ObligationOverdue)
    assert (reminder.term_index, reminder.party, reminder.mediator_id) == (0, "Chen", "lu")
    assert reminder.due_date == date(2026, 6, 20)
    assert again.events == []


async def test_a_resolved_case_leaves_no_timer_behind() -> None:
    scenario = await station()
    await scenario.given(dispute("done"))
    await scenario.given(session("case-done", "agreement", terms=AGREEMENT))
    await scenario.given(check("case-done", 0), check("case-done", 1))

    later = await scenario.advance(ONE_MONTH * 2)

    assert later.events == []
    assert scenario.db["timers"].docs == {}


async def test_one_timer_carries_the_deadlines_of_every_case() -> None:
    scenario = await station()
    for n in range(30):
        await scenario.given(dispute(f"many-{n}", "family"))

    pending = len(scenario.db["timers"].docs)
    due = await scenario.advance(DEFAULT_DEADLINE + timedelta(minutes=1))

    assert pending == 1, "one sweep planned, not a timer per case"
    assert len(due.of(m.SessionOverdue)) == 30
    assert len(scenario.db["timers"].docs) == 1, "the next sweep: the one-month target"


async def test_a_sweep_acts_on_a_batch_and_plans_the_rest_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deadlines, "SWEEP_BATCH", 4)
    scenario = await station()
    for n in range(10):
        await scenario.given(dispute(f"batch-{n}", "family"))

    due = await scenario.advance(DEFAULT_DEADLINE + timedelta(minutes=1))

    assert sorted(o.case_id for o in due.of(m.SessionOverdue)) == sorted(
        f"case-batch-{n}" for n in range(10)
    )


async def test_a_deadline_is_acted_on_within_the_granularity() -> None:
    scenario = await station(session_deadline_s=100, sla_granularity_s=60)
    await scenario.given(dispute("coarse"))  # due at 09:31:40, swept at 09:32:00

    early = await scenario.advance(timedelta(seconds=110))
    swept = await scenario.advance(timedelta(seconds=10))

    assert early.events == []
    overdue = swept.one(m.SessionOverdue)
    assert overdue.due_at == overdue.opened_at + timedelta(seconds=100)


def test_a_sweep_is_planned_only_when_none_comes_first() -> None:
    now = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
    soon, later = now + timedelta(hours=1), now + timedelta(hours=5)

    assert plan_sweep(None, later, now, "t1") is not None
    assert plan_sweep(SweepPlan(next_at=soon), later, now, "t2") is None, "one comes first"
    earlier = plan_sweep(SweepPlan(next_at=later), soon, now, "t3")
    assert earlier is not None
    assert (earlier.state.next_at, earlier.state.timer_id) == (soon, "t3")
    stale = plan_sweep(SweepPlan(next_at=now - timedelta(minutes=1)), later, now, "t4")
    assert stale is not None, "a planned time already past does not count"
