"""What happens to assigned visits: nobody at home, due dates passing, crashes half-way,
and the roster's counts always matching the visits (shared.testing, in memory)."""

import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from services.outreach import messages as m
from services.outreach.settings import OutreachSettings
from services.outreach.store import visits_collection
from shared.testing import Scenario
from tests.unit.test_outreach_builders import (
    assigned_per_volunteer,
    block_visits,
    household,
    open_per_volunteer,
    roster,
    scenario,
    visit_report,
    volunteer,
    warning,
)

B1, B2 = "block-01", "block-02"
SLICE = timedelta(minutes=15)


async def one_visit(sc: Scenario[OutreachSettings], *volunteers: str) -> m.VisitAssigned:
    await sc.given(household("grandma", B1, ages=(88,), alone=True))
    await sc.given(*[volunteer(v, [B1], max_open=3) for v in volunteers])
    outcome = await sc.when(warning("w", min_age=80, blocks=[B1], severity="medium"))
    return outcome.one(m.VisitAssigned)


async def test_nobody_at_home_is_tried_once_more_a_day_later_then_closed() -> None:
    sc = scenario()
    visit = await one_visit(sc, "v1")

    away = await sc.when(visit_report(visit.visit_id, "v1", outcome="not_home"))
    soon = await sc.advance(timedelta(hours=12))
    next_day = await sc.advance(timedelta(hours=12) + SLICE)

    assert away.one(m.VisitCompleted).retry is True
    assert away.of(m.VisitAssigned) == [], "not at once"
    assert soon.of(m.VisitAssigned) == []
    again = next_day.one(m.VisitAssigned)
    assert (again.visit_id, again.attempt, again.volunteer_id) == (visit.visit_id, 2, "v1")
    assert (await open_per_volunteer(sc))["v1"] == 1

    away_again = await sc.when(visit_report(visit.visit_id, "v1", outcome="not_home"))
    later = await sc.advance(timedelta(days=3))

    assert away_again.one(m.VisitCompleted).retry is False
    assert later.of(m.VisitAssigned) == [], "re-assigned once only"
    assert (await open_per_volunteer(sc))["v1"] == 0
    assert (await sc.stats())["visits_by_state"]["not_home"] == 1


async def test_an_overdue_visit_frees_the_slot_and_goes_to_someone_else_once() -> None:
    sc = scenario()
    visit = await one_visit(sc, "v1", "v2")
    assert visit.volunteer_id == "v1"

    early = await sc.advance(timedelta(days=7) - timedelta(minutes=1))
    due = await sc.advance(timedelta(minutes=1) + SLICE)

    assert early.events == []
    overdue = due.one(m.VisitOverdue)
    assert (overdue.visit_id, overdue.volunteer_id, overdue.reassigned) == (
        visit.visit_id,
        "v1",
        True,
    )
    second = due.one(m.VisitAssigned)
    assert (second.volunteer_id, second.attempt) == ("v2", 2), "not back to who let it lapse"
    late_report = await sc.when(visit_report(visit.visit_id, "v1"))
    assert late_report.rejected == "assigned_to_another_volunteer"

    lapsed_again = await sc.advance(timedelta(days=7) + SLICE)

    final = lapsed_again.one(m.VisitOverdue)
    assert (final.volunteer_id, final.reassigned) == ("v2", False)
    assert lapsed_again.of(m.VisitAssigned) == []
    assert await open_per_volunteer(sc) == {"v1": 0, "v2": 0}
    assert (await sc.stats())["visits_by_state"]["overdue"] == 1


async def test_due_dates_are_watched_by_one_timer_per_block_not_one_per_visit() -> None:
    sc = scenario()
    await sc.given(*[household(f"h{n:03}", B1 if n % 2 else B2, ages=(70,)) for n in range(120)])
    await sc.given(*[volunteer(v, [B1, B2], max_open=60) for v in ("v1", "v2")])

    outcome = await sc.when(warning("w", min_age=65, severity="high"))

    assert len(outcome.of(m.VisitAssigned)) == 120
    timers = list(sc.db["timers"].docs.values())
    assert sorted(t["subject"] for t in timers) == [B1, B2]
    lapsed = await sc.advance(timedelta(days=2) + SLICE)
    assert len(lapsed.of(m.VisitOverdue)) == 120


async def test_a_warning_replayed_after_a_crash_half_way_hands_each_visit_out_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sc = scenario()
    await sc.given(*[household(f"h{n:02}", [B1, B2][n % 2], ages=(75,)) for n in range(10)])
    await sc.given(volunteer("v1", [B1, B2], max_open=4), volunteer("v2", [B2], max_open=4))
    calls = 0

    def dying(real: Callable[[dict[str, object]], Awaitable[object]]) -> object:
        async def crash_on_the_second_block(doc: dict[str, object]) -> object:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise ConnectionError("the service died here")
            return await real(doc)

        return crash_on_the_second_block

    for block in (B1, B2):
        collection = sc.db[visits_collection(block)]
        monkeypatch.setattr(collection, "insert_one", dying(collection.insert_one))
    command = warning("w-crash", min_age=70)
    with pytest.raises(ConnectionError):
        await sc.when(command, id="w-crash-1")

    replay = await sc.when(command, id="w-crash-1")

    assigned = [e for e in sc.history if e.type == m.VisitAssigned.type]
    assert len({e.data["visit_id"] for e in assigned if e.data}) == 8
    gaps = {(g.block, g.households_unassigned) for g in replay.of(m.CoverageGapDetected)}
    assert gaps == {(B1, 1), (B2, 1)}
    assert await assigned_per_volunteer(sc) == await open_per_volunteer(sc) == {"v1": 4, "v2": 4}
    assert (await roster(sc)).pending == [], "the reservation was settled"


async def test_the_roster_always_counts_exactly_the_assigned_visits() -> None:
    """An invariant over random interleavings of warnings, reports, registrations and time."""
    rng = random.Random(2026)
    sc = scenario()
    await sc.given(
        *[household(f"h{n:03}", [B1, B2][n % 2], ages=(55 + n % 40,)) for n in range(60)]
    )
    await sc.given(volunteer("v1", [B1], max_open=5), volunteer("v2", [B1, B2], max_open=4))
    maximum = {"v1": 5, "v2": 4}
    schemes = ["impersonate_official_order", "fake_refund", "fake_loan", "elderly_care_investment"]
    for step in range(60):
        action = rng.choice(["warn", "report", "report", "report", "join", "time"])
        if action == "warn":
            await sc.when(
                warning(f"w{step}", scheme=rng.choice(schemes), min_age=rng.randint(55, 90))
            )
        elif action == "join":
            vid = f"v{len(maximum) + 1}"
            maximum[vid] = rng.randint(1, 4)
            await sc.given(
                volunteer(vid, rng.sample([B1, B2], rng.randint(1, 2)), max_open=maximum[vid])
            )
        elif action == "time":
            await sc.advance(timedelta(days=rng.choice([1, 3, 8])))
        else:
            held = [
                v
                for b in (B1, B2)
                if sc.db[visits_collection(b)].docs.get(b)
                for v in (await block_visits(sc, b)).visits
                if v.status == "assigned"
            ]
            if held:
                visit = rng.choice(held)
                assert visit.volunteer_id is not None
                outcome = rng.choice(["completed", "not_home", "refused"])
                await sc.given(visit_report(visit.visit_id, visit.volunteer_id, outcome=outcome))
        counted = await open_per_volunteer(sc)
        assert await assigned_per_volunteer(sc) == counted, f"after {action} at step {step}"
        assert all(counted[v] <= maximum[v] for v in counted)
        assert (await roster(sc)).pending == []
