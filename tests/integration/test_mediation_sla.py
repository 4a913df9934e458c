"""Mediation SLAs and escalations on the real service, with durations of seconds from its
settings: a session overdue once, a case escalated at its target and its slot given to a
waiting case; no agreement after the configured sessions; a waiting case assigned when a
mediator registers."""

from collections.abc import AsyncIterator, Callable

import pytest

from tests.integration.mediation_support import Mediation, running_mediation
from tests.support import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
async def mediation(
    infra: Infra, unique_id: Callable[[str], str], request: pytest.FixtureRequest
) -> AsyncIterator[Mediation]:
    marker = request.node.get_closest_marker("service_env")
    async with running_mediation(infra, unique_id("t"), marker.args[0] if marker else {}) as m:
        yield m


@pytest.mark.service_env(
    {
        "MEDIATION_SESSION_DEADLINE_S": "2",
        "MEDIATION_RESOLUTION_TARGET_S": "8",
        "MEDIATION_SLA_GRANULARITY_S": "1",
    }
)
async def test_no_session_is_overdue_once_then_the_case_escalates_and_its_slot_moves_on(
    mediation: Mediation,
) -> None:
    med = mediation
    await med.send(med.register("lu", "station_full_time", ["labour_wage"], max_active_cases=1))
    await med.tail.wait_for("mediation.mediator_registered", mediator_id=med.id("lu"))
    first, second = med.case_id("first"), med.case_id("second")
    await med.send(med.report("first", "labour_wage"))
    await med.tail.wait_for("mediation.mediator_assigned", case_id=first)
    [overdue] = await med.tail.wait_for("mediation.session_overdue", case_id=first, timeout_s=30)
    # the second case opens once the first is overdue, so it reaches its own target later
    await med.send(med.report("second", "labour_wage"))
    [waiting] = await med.tail.wait_for("mediation.case_escalated", case_id=second)

    [escalated] = await med.tail.wait_for(
        "mediation.case_escalated", case_id=first, reason="overdue", timeout_s=30
    )
    [moved] = await med.tail.wait_for("mediation.mediator_assigned", case_id=second)

    assert overdue["data"]["mediator_id"] == med.id("lu")
    assert waiting["data"]["reason"] == "no_mediator_available"
    assert escalated["data"]["referred_to"] == "station"
    assert moved["data"]["mediator_id"] == med.id("lu")
    assert len(med.tail.of_type("mediation.session_overdue", case_id=first)) == 1, "once"
    stats = await med.stats_once(escalations_by_reason={"no_mediator_available": 1, "overdue": 1})
    assert stats["mediator_load"][med.id("lu")] == {"active": 1, "max": 1}


@pytest.mark.service_env({"MEDIATION_MAX_SESSIONS_WITHOUT_AGREEMENT": "2"})
async def test_no_agreement_after_the_configured_sessions_goes_to_court_and_frees_the_slot(
    mediation: Mediation,
) -> None:
    med = mediation
    await med.send(med.register("lu", "station_full_time", ["construction_payment"]))
    await med.tail.wait_for("mediation.mediator_registered", mediator_id=med.id("lu"))
    case_id = med.case_id("stuck")
    await med.send(med.report("stuck"))
    await med.tail.wait_for("mediation.mediator_assigned", case_id=case_id)

    await med.send(
        med.session(case_id, "lu", "adjourned"),
        med.session(case_id, "lu", "no_agreement"),
        med.session(case_id, "lu", "no_agreement"),
    )
    [escalated] = await med.tail.wait_for("mediation.case_escalated", case_id=case_id)

    assert (escalated["data"]["reason"], escalated["data"]["referred_to"]) == (
        "no_agreement",
        "court",
    )
    assert escalated["data"]["sessions"] == 3
    stats = await med.stats_once(cases_by_state={"escalated": 1})
    assert stats["mediator_load"][med.id("lu")]["active"] == 0


async def test_a_case_nobody_can_take_waits_and_is_assigned_when_a_mediator_registers(
    mediation: Mediation,
) -> None:
    med = mediation
    case_id = med.case_id("urgent")
    await med.send(med.report("urgent", "traffic", urgency="high"))
    [waiting] = await med.tail.wait_for("mediation.case_escalated", case_id=case_id)

    await med.send(med.register("officer", "police_officer", ["traffic"]))
    [assigned] = await med.tail.wait_for("mediation.mediator_assigned", case_id=case_id)

    assert (waiting["data"]["reason"], waiting["data"]["referred_to"]) == (
        "no_mediator_available",
        "station",
    )
    assert assigned["data"]["mediator_id"] == med.id("officer")
    assert assigned["data"]["urgency"] == "high"
