"""Every bound of the outreach service's commands, each refused as invalid_data naming
the field, through the service's real pipeline."""

from datetime import date
from typing import Any

import pytest

from services.outreach import commands as c
from services.outreach import messages as m
from shared import Command
from tests.unit.bounds_support import (
    CJK_65,
    FOREIGN_PHONE,
    LONG_ID,
    TEXT_201,
    TEXT_2001,
    refusal,
    with_value,
)
from tests.unit.test_outreach_builders import (
    attempt,
    home_request,
    household,
    scenario,
    visit_report,
    volunteer,
    warning,
)

HOUSEHOLD = household("h-1", "block-01")
VOLUNTEER = volunteer("v-1", ["block-01"])
WARNING = warning("w-1", all_households=True)
ATTEMPT = attempt("r-1", "block-01")
DISPUTE = {
    "category": "family",
    "parties": [{"name": "吴先生", "role": "applicant"}],
    "description": "争吵",
    "resolved_on_site": True,
}
REPORT = visit_report("block-01/v", "v-1", findings={"dispute": DISPUTE})
REQUEST = home_request("req-1", "block-01", [date(2026, 6, 4)])
DONE = c.CompleteHomeService(request_id="req-1", officer_id="v-1")
MEMBER = {"name": "毛大爷", "age": 81}
PARTY = {"name": "吴太太", "role": "respondent"}

# command, where the bad value goes, the value, the field named, what the error says
CASES: dict[str, tuple[Command, str, Any, str, str]] = {
    "household_id_too_long": (HOUSEHOLD, "household_id", LONG_ID, "household_id", "at most 64"),
    "address_too_long": (HOUSEHOLD, "address", TEXT_201, "address", "at most 200 characters"),
    "too_many_members": (HOUSEHOLD, "members", [MEMBER] * 21, "members", "at most 20 items"),
    "member_name_too_long": (HOUSEHOLD, "members.0.name", CJK_65, "members.0.name", "at most 64"),
    "member_age_past_150": (HOUSEHOLD, "members.0.age", 151, "members.0.age", "less than or equal"),
    "member_age_negative": (HOUSEHOLD, "members.0.age", -1, "members.0.age", "greater than"),
    "member_phone_invalid": (
        HOUSEHOLD,
        "members.0.phone",
        "12345678901",
        "members.0.phone",
        "not a Chinese mobile (1xx xxxx xxxx) or landline (0xx-xxxxxxxx) number",
    ),
    "business_type_too_long": (HOUSEHOLD, "business_type", TEXT_201, "business_type", "at most"),
    "volunteer_name_escape": (VOLUNTEER, "name", "王\u202e芳", "name", "control character U+202E"),
    "volunteer_block_twice": (
        VOLUNTEER,
        "blocks",
        ["block-01", "block-01"],
        "blocks",
        "lists the same entry twice: 'block-01'",
    ),
    "volunteer_phone_foreign": (VOLUNTEER, "phone", FOREIGN_PHONE, "phone", "+86"),
    "max_open_visits_zero": (VOLUNTEER, "max_open_visits", 0, "max_open_visits", "greater than"),
    "max_open_visits_past_cap": (
        VOLUNTEER,
        "max_open_visits",
        101,
        "max_open_visits",
        "less than or equal to 100",
    ),
    "warning_title_too_long": (WARNING, "title", TEXT_201, "title", "at most 200"),
    "warning_description_too_long": (
        WARNING,
        "description",
        TEXT_2001,
        "description",
        "at most 2000 characters",
    ),
    "warning_business_types": (
        WARNING,
        "target.business_types",
        [f"t{n}" for n in range(21)],
        "target.business_types",
        "at most 20 items",
    ),
    "warning_min_age": (WARNING, "target.min_age", 151, "target.min_age", "less than or equal"),
    "warning_blocks_twice": (
        WARNING,
        "blocks",
        ["block-02", "block-02"],
        "blocks",
        "lists the same entry twice",
    ),
    "warning_issued_by": (WARNING, "issued_by", CJK_65, "issued_by", "at most 64"),
    "attempt_amount_past_max": (
        ATTEMPT,
        "amount_at_risk_yuan",
        10**10,
        "amount_at_risk_yuan",
        "less than or equal to 1000000000",
    ),
    "attempt_amount_fraction": (
        ATTEMPT,
        "amount_at_risk_yuan",
        1.5,
        "amount_at_risk_yuan",
        "fractional part",
    ),
    "too_many_topics": (
        REPORT,
        "topics_covered",
        [f"topic-{n}" for n in range(21)],
        "topics_covered",
        "at most 20 items",
    ),
    "too_many_parties": (
        REPORT,
        "findings.dispute.parties",
        [PARTY] * 21,
        "findings.dispute.parties",
        "at most 20 items",
    ),
    "dispute_description_too_long": (
        REPORT,
        "findings.dispute.description",
        TEXT_2001,
        "findings.dispute.description",
        "at most 2000",
    ),
    "fire_hazard_too_long": (
        REPORT,
        "findings.fire_hazard",
        TEXT_2001,
        "findings.fire_hazard",
        "at most 2000",
    ),
    "too_many_dates": (
        REQUEST,
        "preferred_dates",
        [f"2026-06-{d:02}" for d in range(4, 15)],
        "preferred_dates",
        "at most 10 items",
    ),
    "date_past_the_window": (
        REQUEST,
        "preferred_dates.0",
        "2100-01-01",
        "preferred_dates.0",
        "less than or equal to 2099-12-31",
    ),
    "requester_phone": (
        REQUEST,
        "requested_by.phone",
        "138",
        "requested_by.phone",
        "not a Chinese mobile",
    ),
    "requester_relation": (
        REQUEST,
        "requested_by.relation",
        TEXT_201,
        "requested_by.relation",
        "at most 200",
    ),
    "person_age": (REQUEST, "person.age", 200, "person.age", "less than or equal to 150"),
    "request_address": (REQUEST, "address", "一\n二", "address", "control character U+000A"),
    "notes_too_long": (DONE, "notes", TEXT_2001, "notes", "at most 2000 characters"),
}


@pytest.mark.parametrize(("command", "path", "value", "field", "says"), CASES.values(), ids=CASES)
async def test_a_value_past_its_bound_is_refused_naming_the_field(
    command: Command, path: str, value: Any, field: str, says: str
) -> None:
    sc = scenario()
    await sc.given(HOUSEHOLD, volunteer("v-1", ["block-01"], org="police"))

    errors = await refusal(sc, command, path, value)

    assert [e.split(": ", 1)[0] for e in errors] == [field]
    assert says in errors[0]


async def test_a_phone_written_from_abroad_is_accepted_and_stored_normalised() -> None:
    sc = scenario()
    topic, event = sc.envelope(VOLUNTEER)
    written = with_value(event.data or {}, "phone", "+86 138-0000-0000")

    outcome = await sc.when_raw(topic, event.model_copy(update={"data": written}))

    assert outcome.rejected is None
    assert outcome.one(m.VolunteerRegistered).phone == "13800000000"
