"""Bad input to the mediation service: refused with a specific reason, nothing changed."""

from typing import Any

import pytest

from services.mediation import messages as m
from services.mediation.app import SERVICE
from services.mediation.settings import MediationSettings
from services.mediation.state import CaseState, MediatorState
from shared import Command
from shared.testing import Scenario
from tests.unit.bounds_support import refusal
from tests.unit.test_mediation_rules import (
    AGREEMENT,
    check,
    dispute,
    lu,
    mediator,
    session,
    station,
    visit,
)


async def _snapshot(scenario: Scenario[MediationSettings]) -> dict[str, Any]:
    return {
        "cases": [
            await scenario.state("cases", c, CaseState) for c in ("case-open", "case-agreed")
        ],
        "mediators": [
            await scenario.state("mediators", mid, MediatorState)
            for mid in ("lu", "community-a", "community-b")
        ],
        "timers": sorted(scenario.db["timers"].docs),
    }


async def _two_cases() -> Scenario[MediationSettings]:
    """One case in mediation with Lü, one whose agreement is being followed up."""
    scenario = await station()
    await scenario.given(dispute("open"), dispute("agreed"))
    await scenario.given(session("case-agreed", "agreement", terms=AGREEMENT))
    return scenario


BAD: dict[str, Command] = {
    "unknown_case": session("case-nobody", "adjourned"),
    "unknown_mediator": session("case-open", "adjourned", by="nobody"),
    "not_the_assigned_mediator": session("case-open", "adjourned", by="community-b"),
    "agreement_without_terms": session("case-open", "agreement", terms=[]),
    "terms_without_agreement": session("case-open", "no_agreement", terms=AGREEMENT),
    "agreement_already_reached": session("case-agreed", "adjourned"),
    "no_agreement_yet": check("case-open", 0),
    "term_index_out_of_range": check("case-agreed", 2),
    "unknown_category": dispute("odd", "witchcraft"),
    "dispute_already_reported": dispute("open"),
}


@pytest.mark.parametrize(("reason", "command"), BAD.items(), ids=list(BAD))
async def test_a_bad_command_is_refused_with_its_reason_and_changes_nothing(
    reason: str, command: Command
) -> None:
    scenario = await _two_cases()
    before = await _snapshot(scenario)

    outcome = await scenario.when(command)

    assert outcome.rejected == reason, outcome.types
    assert outcome.rejections[0].errors, "a rejection says what was wrong"
    assert len(outcome.events) == 1, "a rejection and nothing else"
    assert await _snapshot(scenario) == before


async def test_a_negative_term_index_and_an_unknown_specialty_are_refused() -> None:
    scenario = await _two_cases()
    unknown_specialty = mediator("m", specialties=("family", "astrology"))

    # a negative index is no index at all: refused by the schema, naming the field
    negative = await scenario.when(
        m.CheckObligation.model_construct(**{**dict(check("case-agreed", 0)), "term_index": -1})
    )
    registration = await scenario.when(unknown_specialty)

    assert negative.rejected == "invalid_data"
    assert [e.split(":")[0] for e in negative.rejections[0].errors] == ["term_index"]
    assert registration.rejected == "unknown_category"
    assert await scenario.state("mediators", "m", MediatorState) is None


async def test_a_term_checked_fulfilled_cannot_be_checked_again() -> None:
    scenario = await _two_cases()
    await scenario.given(check("case-agreed", 0))

    again = await scenario.when(check("case-agreed", 0))

    assert again.rejected == "term_already_checked"


@pytest.mark.parametrize(
    "data",
    [
        {"case_id": "case-open", "mediator_id": "lu", "outcome": "agreement"},  # no held_at
        {
            "case_id": "case-open",
            "mediator_id": "lu",
            "held_at": "2026-06-04T10:00:00",  # no offset: which day would it be?
            "outcome": "adjourned",
        },
        {
            "case_id": "case-open",
            "mediator_id": "lu",
            "held_at": "2026-06-04T10:00:00+08:00",
            "outcome": "shouted",
        },
    ],
)
async def test_invalid_data_is_refused_as_such(data: dict[str, Any]) -> None:
    scenario = await _two_cases()
    _, event = scenario.envelope(session("case-open", "adjourned"))

    outcome = await scenario.when_raw(
        scenario.runtime.intake, event.model_copy(update={"data": data})
    )

    assert outcome.rejected == "invalid_data"


async def test_re_registering_keeps_the_cases_held_and_a_lower_maximum_stops_new_ones() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(lu(max_active_cases=2), dispute("one"), dispute("two"))

    updated = await scenario.when(lu(max_active_cases=1))
    third = await scenario.when(dispute("three"))

    assert updated.one(m.MediatorRegistered).active_cases == 2
    assert third.one(m.CaseEscalated).reason == "no_mediator_available"
    state = await scenario.state("mediators", "lu", MediatorState)
    assert state is not None
    assert (state.active_cases, state.max_active_cases) == (["case-one", "case-two"], 1)


TERM = {"party": "Chen", "obligation": "pay", "due_date": "2026-06-30"}
PARTY = {"name": "Lei", "role": "applicant"}
TEXT_201, TEXT_2001 = "字" * 201, "字" * 2001

# command, where the bad value goes, the value, the field named, what the error says
BOUNDS: dict[str, tuple[Command, str, Any, str, str]] = {
    "mediator_id_too_long": (lu(), "mediator_id", "x" * 65, "mediator_id", "at most 64"),
    "mediator_name_too_long": (lu(), "name", "雷" * 65, "name", "at most 64 characters"),
    "specialty_twice": (
        lu(),
        "specialties",
        ["family", "family"],
        "specialties",
        "lists the same entry twice: 'family'",
    ),
    "block_twice": (lu(), "blocks", ["block-01"] * 2, "blocks", "lists the same entry twice"),
    "mediator_phone": (lu(), "phone", "010-123", "phone", "not a Chinese mobile"),
    "max_active_cases_zero": (lu(), "max_active_cases", 0, "max_active_cases", "greater than"),
    "max_active_cases_past_cap": (
        lu(),
        "max_active_cases",
        101,
        "max_active_cases",
        "less than or equal to 100",
    ),
    "dispute_id_too_long": (dispute("x"), "dispute_id", "d" * 60, "dispute_id", "at most 59"),
    "too_many_parties": (dispute("x"), "parties", [PARTY] * 21, "parties", "at most 20 items"),
    "party_phone": (dispute("x"), "parties.0.phone", "+44 20 7946 0000", "parties.0.phone", "+86"),
    "description_too_long": (
        dispute("x"),
        "description",
        TEXT_2001,
        "description",
        "at most 2000 characters",
    ),
    "description_empty": (dispute("x"), "description", "  ", "description", "at least 1"),
    "held_in_2100": (
        session("case-open", "adjourned"),
        "held_at",
        "2100-06-01T10:00:00+08:00",
        "held_at",
        "a time between 2000-01-01 and 2099-12-31",
    ),
    "too_many_terms": (
        session("case-open", "agreement"),
        "terms",
        [TERM] * 21,
        "terms",
        "at most 20 items",
    ),
    "obligation_too_long": (
        session("case-open", "agreement"),
        "terms",
        [{**TERM, "obligation": TEXT_201}],
        "terms.0.obligation",
        "at most 200 characters",
    ),
    "due_date_too_early": (
        session("case-open", "agreement"),
        "terms",
        [{**TERM, "due_date": "1999-12-31"}],
        "terms.0.due_date",
        "greater than or equal to 2000-01-01",
    ),
    "notes_too_long": (
        session("case-open", "adjourned"),
        "notes",
        TEXT_2001,
        "notes",
        "at most 2000",
    ),
    "term_index_past_cap": (
        check("case-agreed", 0),
        "term_index",
        20,
        "term_index",
        "less than 20",
    ),
    "checked_in_1999": (
        check("case-agreed", 0),
        "checked_at",
        "1999-06-01T10:00:00+08:00",
        "checked_at",
        "a time between",
    ),
}


@pytest.mark.parametrize(
    ("command", "path", "value", "field", "says"), BOUNDS.values(), ids=list(BOUNDS)
)
async def test_a_value_past_its_bound_is_refused_naming_the_field(
    command: Command, path: str, value: Any, field: str, says: str
) -> None:
    scenario = await _two_cases()

    errors = await refusal(scenario, command, path, value)

    assert [e.split(": ", 1)[0] for e in errors] == [field]
    assert says in errors[0]


async def test_a_case_from_a_visit_is_bounded_like_a_reported_dispute() -> None:
    scenario = await _two_cases()
    topic, event = scenario.envelope(visit("v-long", on_site=False))
    long = {**(event.data or {}), "parties": [{"name": "Wu", "role": "x"}] * 21}

    outcome = await scenario.when_raw(topic, event.model_copy(update={"data": long}))

    assert outcome.events == [], "a fact is not a command: nothing is published for it"
    assert await scenario.state("cases", "case-visit-v-long", CaseState) is None
