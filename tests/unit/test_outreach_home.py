"""Home services: the 90-year-old's ID card, booked with an officer on a preferred day with
room, then done (domain.md, story 3; shared.testing, in memory).

The scenario's clock starts on 2026-06-03 at 17:30 station time.
"""

from datetime import date, timedelta

from services.outreach import commands as c
from services.outreach import messages as m
from tests.unit.test_outreach_builders import home_request, scenario, volunteer

B6, B9 = "block-06", "block-09"
TODAY = date(2026, 6, 3)


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


async def test_the_90_year_olds_id_card_is_booked_on_a_preferred_day_then_done() -> None:
    sc = scenario()
    await sc.given(
        volunteer("officer-lu", [B6], org="police"),
        volunteer("community-he", [B6], org="community"),
    )

    booked = await sc.when(home_request("req-id-card", B6, [day(3), day(1)], age=89))
    scheduled = booked.one(m.HomeServiceScheduled)
    done = await sc.when(
        c.CompleteHomeService(
            request_id="req-id-card", officer_id="officer-lu", notes="photo, fingerprints"
        )
    )

    assert (scheduled.appointment_date, scheduled.officer_id) == (day(1), "officer-lu")
    assert (scheduled.service, scheduled.on_preferred_date) == ("id_card_replacement", True)
    assert (scheduled.requested_by.relation, scheduled.person.age) == ("son", 89)
    assert scheduled.address == f"7 Lane, {B6}"
    completed = done.one(m.HomeServiceCompleted)
    assert (completed.request_id, completed.officer_id) == ("req-id-card", "officer-lu")
    assert (await sc.stats())["home_services_by_state"] == {"completed": 1}


async def test_a_day_has_room_for_so_many_home_visits_per_officer() -> None:
    sc = scenario(home_visits_per_officer_per_day=2)
    await sc.given(
        volunteer("officer-a", [B6], org="police"), volunteer("officer-b", [B6], org="police")
    )

    first_four = [await sc.when(home_request(f"r{n}", B6, [day(2)])) for n in range(4)]
    fifth = await sc.when(home_request("r5", B6, [day(2), day(4)]))
    sixth = await sc.when(home_request("r6", B6, [day(2)]))

    booked = [o.one(m.HomeServiceScheduled) for o in first_four]
    assert {b.appointment_date for b in booked} == {day(2)}
    assert sorted(b.officer_id for b in booked) == ["officer-a"] * 2 + ["officer-b"] * 2
    assert fifth.one(m.HomeServiceScheduled).appointment_date == day(4)
    after = sixth.one(m.HomeServiceScheduled)
    assert (after.appointment_date, after.on_preferred_date) == (day(3), False), (
        "no room on any preferred day: the first day with room after them"
    )


async def test_officers_serving_the_block_first_else_any_police_volunteer() -> None:
    sc = scenario()
    await sc.given(
        volunteer("officer-b6", [B6], org="police"),
        volunteer("officer-other", ["block-01"], org="police"),
        volunteer("grid-9", [B9], org="grid_worker"),
    )

    in_b6 = await sc.when(home_request("r-6", B6, [day(1)]))
    in_b9 = await sc.when(home_request("r-9", B9, [day(1)]))

    assert in_b6.one(m.HomeServiceScheduled).officer_id == "officer-b6"
    assert in_b9.one(m.HomeServiceScheduled).officer_id == "officer-other", (
        "no officer serves block 9: any police volunteer, the one with fewest that day"
    )
