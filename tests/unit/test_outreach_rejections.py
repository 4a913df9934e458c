"""Bad input is refused with a specific reason and changes nothing (shared.testing)."""

import copy
from datetime import date
from typing import Any

import pytest

from services.outreach import commands as c
from services.outreach import messages as m
from services.outreach.settings import OutreachSettings
from shared import Command, Reason
from shared.testing import Scenario
from tests.unit.test_outreach_builders import (
    attempt,
    home_request,
    household,
    scenario,
    visit_report,
    volunteer,
    warning,
)

B1, B2 = "block-01", "block-02"
TOMORROW = date(2026, 6, 4)


def everything_but_the_dedupe_record(sc: Scenario[OutreachSettings]) -> dict[str, Any]:
    return {
        name: copy.deepcopy(collection.docs)
        for name, collection in sc.db.collections.items()
        if name != "processed"
    }


async def stocked() -> tuple[Scenario[OutreachSettings], m.VisitAssigned]:
    """A block with a household, two volunteers, an officer, a visit assigned, a booking."""
    sc = scenario()
    await sc.given(
        household("zheng", B1, business="catering"),
        household("wu", B2),
        volunteer("v1", [B1], max_open=1),
        volunteer("v2", [B1]),
        volunteer("officer-lu", [B2], org="police", max_open=1),
        home_request("req-1", B2, [TOMORROW]),
    )
    outcome = await sc.when(warning("w-1", business_types=["catering"], blocks=[B1]))
    return sc, outcome.one(m.VisitAssigned)


def bad_commands(visit: m.VisitAssigned) -> dict[str, Command]:
    on_visit = visit.visit_id
    assert visit.volunteer_id == "v1"
    return {
        "unknown_block": household("h-x", "block-19"),
        "no_blocks": volunteer("v-none", []),
        "unknown_scheme": warning("w-x", scheme="pig_butchering", all_households=True),
        "empty_target": warning("w-y"),
        "warning_already_issued": warning("w-1", all_households=True),
        "unknown_household": attempt("r-x", B1, household_id="nobody"),
        "household_not_in_block": attempt("r-y", B2, household_id="zheng"),
        "unknown_visit": visit_report(f"{B1}/does-not-exist", "v1"),
        "unknown_volunteer": visit_report(on_visit, "stranger"),
        "assigned_to_another_volunteer": visit_report(on_visit, "v2"),
        "findings_without_visit": visit_report(
            on_visit,
            "v1",
            outcome="not_home",
            findings={"fraud_dissuaded": {"scheme": "fake_refund", "amount_yuan": 10}},
        ),
        "no_preferred_dates": home_request("req-2", B2, []),
        "date_in_the_past": home_request("req-3", B2, [date(2026, 6, 2), TOMORROW]),
        "date_too_far": home_request("req-4", B2, [TOMORROW, date(2026, 9, 30)]),
        "request_already_made": home_request("req-1", B2, [TOMORROW]),
        "unknown_request": c.CompleteHomeService(request_id="req-none", officer_id="officer-lu"),
        "not_the_officer": c.CompleteHomeService(request_id="req-1", officer_id="v1"),
    }


BAD = (
    "unknown_block",
    "no_blocks",
    "unknown_scheme",
    "empty_target",
    "warning_already_issued",
    "unknown_household",
    "household_not_in_block",
    "unknown_visit",
    "unknown_volunteer",
    "assigned_to_another_volunteer",
    "findings_without_visit",
    "no_preferred_dates",
    "date_in_the_past",
    "date_too_far",
    "request_already_made",
    "unknown_request",
    "not_the_officer",
)
# refused in the tests below, in test_outreach_clusters.py or test_document_bounds.py
LATER = {
    "roster_full",
    "block_full",
    "agenda_full",
    "visit_already_reported",
    "visit_not_assigned",
    "no_officer_available",
    "no_room",
    "already_completed",
    "report_already_recorded",
}


def test_every_reason_of_the_contract_is_tested() -> None:
    declared = {r.code for r in vars(m).values() if isinstance(r, Reason)}
    assert declared == set(BAD) | LATER


@pytest.mark.parametrize("reason", BAD)
async def test_bad_input_is_refused_with_its_reason_and_changes_nothing(reason: str) -> None:
    sc, visit = await stocked()
    command = bad_commands(visit)[reason]
    before = everything_but_the_dedupe_record(sc)

    outcome = await sc.when(command)

    assert outcome.rejected == reason, outcome.types
    assert outcome.rejections[0].errors, "the sender is told what was wrong"
    assert everything_but_the_dedupe_record(sc) == before


async def test_a_second_report_for_the_same_visit_is_refused() -> None:
    sc, visit = await stocked()
    await sc.given(visit_report(visit.visit_id, "v1"))
    before = everything_but_the_dedupe_record(sc)

    again = await sc.when(visit_report(visit.visit_id, "v1", outcome="refused"))

    assert again.rejected == "visit_already_reported"
    assert everything_but_the_dedupe_record(sc) == before


async def test_a_home_service_is_completed_once_and_needs_an_officer() -> None:
    sc = scenario()
    await sc.given(volunteer("grid", [B2], org="grid_worker"))
    no_officer = await sc.when(home_request("req-1", B2, [TOMORROW]))
    await sc.given(
        volunteer("officer-lu", [B2], org="police"), home_request("req-2", B2, [TOMORROW])
    )
    done = c.CompleteHomeService(request_id="req-2", officer_id="officer-lu")
    await sc.given(done)

    again = await sc.when(done)

    assert no_officer.rejected == "no_officer_available"
    assert again.rejected == "already_completed"


async def test_no_room_within_the_booking_horizon_is_refused() -> None:
    sc = scenario(home_visits_per_officer_per_day=1, booking_horizon_days=1)
    await sc.given(volunteer("officer-lu", [B2], org="police"))
    await sc.given(home_request("r-1", B2, [TOMORROW]), home_request("r-2", B2, [TOMORROW]))

    full = await sc.when(home_request("r-3", B2, [TOMORROW]))

    assert full.rejected == "no_room"


async def test_a_report_for_a_visit_nobody_holds_now_is_refused() -> None:
    sc, visit = await stocked()
    await sc.given(visit_report(visit.visit_id, "v1", outcome="not_home"))

    other = await sc.when(visit_report(visit.visit_id, "v2"))

    assert other.rejected == "visit_not_assigned", "waiting for its second try"


async def test_wrong_kinds_of_values_are_invalid_data() -> None:
    sc, _visit = await stocked()
    topic, event = sc.envelope(volunteer("v9", [B1]))
    assert event.data is not None
    odd = event.model_copy(
        update={"data": {**event.data, "organisation": "gang", "max_open_visits": -1}}
    )

    outcome = await sc.when_raw(topic, odd)

    assert outcome.rejected == "invalid_data"
    fields = sorted(e.split(":")[0] for e in outcome.rejections[0].errors)
    assert fields == ["max_open_visits", "organisation"]
