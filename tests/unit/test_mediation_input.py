"""Bad input to the mediation service: refused with a specific reason, nothing changed."""

from typing import Any

import pytest

from services.mediation import messages as m
from services.mediation.app import SERVICE
from services.mediation.settings import MediationSettings
from services.mediation.state import CaseState, MediatorState
from shared import Command
from shared.testing import Scenario
from tests.unit.test_mediation_rules import (
    AGREEMENT,
    check,
    dispute,
    lu,
    mediator,
    session,
    station,
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
