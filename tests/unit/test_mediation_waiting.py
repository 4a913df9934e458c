"""Cases waiting for a mediator: the waiting list, and the roster a replica ranks from."""

from datetime import timedelta

from services.mediation import messages as m
from services.mediation.app import SERVICE
from services.mediation.settings import MediationSettings
from services.mediation.state import WaitingList
from services.mediation.store import ROSTER_TTL, WAITING_ID
from shared.testing import Scenario
from tests.unit.test_mediation_rules import AGREEMENT, dispute, load, lu, mediator, session


async def waiting(scenario: Scenario[MediationSettings]) -> list[str]:
    found = await scenario.state("waiting_lists", WAITING_ID, WaitingList)
    return [] if found is None else [c.case_id for c in found.cases]


def free_a_slot_elsewhere(scenario: Scenario[MediationSettings], mid: str) -> None:
    """What another replica's release looks like to this one: the document changed, the
    roster this replica ranks from did not."""
    doc = scenario.db["mediators"].docs[mid]
    doc["state"]["active_cases"] = doc["state"]["active_cases"][1:]
    doc["version"] += 1


async def test_a_case_nobody_can_take_is_listed_and_leaves_the_list_when_assigned() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(lu(max_active_cases=1), dispute("first"))

    await scenario.given(dispute("second"), dispute("third", "family"))
    listed = await waiting(scenario)
    freed = await scenario.when(mediator("c", specialties=("family", "construction_payment")))

    assert listed == ["case-second", "case-third"]
    assert sorted(a.case_id for a in freed.of(m.MediatorAssigned)) == [
        "case-second",
        "case-third",
    ]
    assert await waiting(scenario) == []


async def test_a_listed_case_closed_meanwhile_leaves_the_list_when_offered() -> None:
    scenario = Scenario(SERVICE, resolution_target_s=600)
    await scenario.given(lu(max_active_cases=1), dispute("busy"), dispute("gives-up"))
    await scenario.given(session("case-busy", "agreement", terms=AGREEMENT[:1]))
    await scenario.advance(timedelta(seconds=601))  # both reach their target: escalated

    after = await scenario.when(lu(max_active_cases=1))

    assert after.of(m.MediatorAssigned) == []
    assert await waiting(scenario) == []
    assert await load(scenario, "lu") == []


async def test_a_stale_roster_is_read_again_before_a_case_is_escalated() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(lu(max_active_cases=1), dispute("first"))
    free_a_slot_elsewhere(scenario, "lu")

    outcome = await scenario.when(dispute("second"))

    assert outcome.one(m.MediatorAssigned).mediator_id == "lu"
    assert outcome.of(m.CaseEscalated) == []
    assert await waiting(scenario) == [], "listed while the roster was read again, then not"


async def _b_freed_elsewhere() -> Scenario[MediationSettings]:
    """a-med and b-med hold one case each; another replica frees b-med's."""
    scenario = Scenario(SERVICE)
    await scenario.given(
        mediator("a-med", specialties=("family",)),
        mediator("b-med", specialties=("family",)),
        dispute("one", "family"),
        dispute("two", "family"),
    )
    free_a_slot_elsewhere(scenario, "b-med")
    return scenario


async def test_the_roster_is_read_again_after_its_time_to_live() -> None:
    within, after = await _b_freed_elsewhere(), await _b_freed_elsewhere()
    after.clock.advance(ROSTER_TTL + timedelta(seconds=1))

    stale = await within.when(dispute("three", "family"))
    fresh = await after.when(dispute("three", "family"))

    assert stale.one(m.MediatorAssigned).mediator_id == "a-med", "1 active each, as last seen"
    assert fresh.one(m.MediatorAssigned).mediator_id == "b-med", "0 active, as stored"
    assert await load(within, "a-med") == ["case-one", "case-three"]
