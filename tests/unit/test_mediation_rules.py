"""The mediation service's rules through its real wiring, in memory (shared.testing).

The seed story (domain.md, story 1): Ms. Lei's renovation is stuck because the
contractor (Chen) and a worker (Ye) disagree over pay; the station's full-time mediator
(Lü) gets all three to agree. Delivery, atomicity and concurrency are tested on Kafka
and FerretDB elsewhere.
"""

from datetime import UTC, date, datetime
from typing import Any

from services.mediation import messages as m
from services.mediation.app import SERVICE
from services.mediation.settings import MediationSettings
from services.mediation.state import CaseState, MediatorState
from shared.testing import Scenario

HELD_AT = datetime(2026, 6, 4, 10, 0, tzinfo=UTC)


def mediator(
    mid: str,
    kind: m.MediatorKind = "community",
    specialties: tuple[str, ...] = ("family", "neighbour"),
    blocks: tuple[str, ...] = (),
    max_active_cases: int = 5,
) -> m.RegisterMediator:
    return m.RegisterMediator(
        mediator_id=mid,
        name=mid.title(),
        kind=kind,
        specialties=list(specialties),
        blocks=list(blocks),
        phone="13800000000",
        max_active_cases=max_active_cases,
    )


def lu(max_active_cases: int = 5) -> m.RegisterMediator:
    """Lü, the station's full-time mediator: construction and wage disputes."""
    return mediator(
        "lu",
        "station_full_time",
        ("construction_payment", "labour_wage"),
        max_active_cases=max_active_cases,
    )


def dispute(
    did: str,
    category: str = "construction_payment",
    *,
    block: str | None = "block-03",
    urgency: m.Urgency = "normal",
) -> m.ReportDispute:
    return m.ReportDispute(
        dispute_id=did,
        source="walk_in",
        category=category,
        parties=[
            m.Party(name="Lei", role="applicant", phone="13900000001"),
            m.Party(name="Chen", role="respondent"),
            m.Party(name="Ye", role="third_party"),
        ],
        description="renovation stuck for a month; the worker took the door out",
        block=block,
        urgency=urgency,
    )


def session(
    case_id: str,
    outcome: m.SessionOutcome,
    by: str = "lu",
    terms: list[m.Term] | None = None,
) -> m.RecordSession:
    return m.RecordSession(
        case_id=case_id, mediator_id=by, held_at=HELD_AT, outcome=outcome, terms=terms
    )


AGREEMENT = [
    m.Term(party="Chen", obligation="pay Ye his wages", due_date=date(2026, 6, 20)),
    m.Term(party="Ye", obligation="refit the wooden door", due_date=date(2026, 6, 15)),
]


def check(case_id: str, index: int, fulfilled: bool = True) -> m.CheckObligation:
    return m.CheckObligation(
        case_id=case_id,
        term_index=index,
        fulfilled=fulfilled,
        checked_at=datetime(2026, 6, 21, 9, 0, tzinfo=UTC),
    )


def visit(vid: str, *, on_site: bool, category: str = "family") -> m.DisputeDetected:
    return m.DisputeDetected(
        visit_id=vid,
        household_id="hh-wu",
        block="block-07",
        category=category,
        parties=[m.VisitParty(name="Mr. Wu", role="husband"), m.VisitParty(name="Mrs. Wu")],
        description="a couple quarrelling",
        resolved_on_site=on_site,
    )


async def station(**settings: Any) -> Scenario[MediationSettings]:
    scenario = Scenario(SERVICE, **settings)
    await scenario.given(
        lu(), mediator("community-a", blocks=("block-03",)), mediator("community-b")
    )
    return scenario


async def case_state(scenario: Scenario[MediationSettings], case_id: str) -> CaseState:
    found = await scenario.state("cases", case_id, CaseState)
    assert found is not None
    return found


async def load(scenario: Scenario[MediationSettings], mid: str) -> list[str]:
    found = await scenario.state("mediators", mid, MediatorState)
    assert found is not None
    return found.active_cases


async def test_seed_story_opened_assigned_agreed_followed_up_resolved() -> None:
    scenario = await station()

    reported = await scenario.when(dispute("lei-renovation"))
    opened = reported.one(m.CaseOpened)
    assigned = reported.one(m.MediatorAssigned)
    case_id = opened.case_id
    agreed = await scenario.when(session(case_id, "agreement", terms=AGREEMENT))
    first = await scenario.when(check(case_id, 0))
    second = await scenario.when(check(case_id, 1))

    assert (opened.category, opened.source, len(opened.parties)) == (
        "construction_payment",
        "walk_in",
        3,
    )
    assert (assigned.case_id, assigned.mediator_id, assigned.mediator_phone) == (
        case_id,
        "lu",
        "13800000000",
    )
    assert reported.types == ["mediation.case_opened", "mediation.mediator_assigned"]
    agreement = agreed.one(m.AgreementReached)
    assert agreement.terms == AGREEMENT
    assert agreement.follow_up_due == date(2026, 6, 20), "the last due date"
    assert first.types == ["mediation.obligation_checked"], "one term is still open"
    resolved = second.one(m.CaseResolved)
    assert (resolved.how, resolved.sessions, resolved.mediator_id) == (
        "agreement_fulfilled",
        1,
        "lu",
    )
    assert resolved.days_open > 0
    assert await load(scenario, "lu") == [], "the slot is freed"
    stats = await scenario.stats()
    assert stats["cases_by_state"] == {"resolved": 1}
    assert stats["resolution_rate"] == 1.0
    assert stats["mediator_load"]["lu"] == {"active": 0, "max": 5}


async def test_a_dispute_found_on_a_visit_opens_a_case_and_one_settled_on_the_spot_resolves() -> (
    None
):
    scenario = await station()

    found = await scenario.when(visit("visit-1", on_site=False))
    settled = await scenario.when(visit("visit-2", on_site=True))

    opened = found.one(m.CaseOpened)
    assert (opened.source, opened.dispute_id, opened.block) == ("outreach", "visit-1", "block-07")
    assert opened.household_id == "hh-wu"
    assert [p.role for p in opened.parties] == ["husband", "third_party"]
    assert found.one(m.MediatorAssigned).mediator_id == "community-a", "lowest load, then id"
    assert settled.types == ["mediation.case_opened", "mediation.case_resolved"]
    resolved = settled.one(m.CaseResolved)
    assert (resolved.how, resolved.sessions, resolved.days_open) == ("resolved_on_site", 0, 0)
    stats = await scenario.stats()
    assert stats["resolved_on_site"] == 1
    assert stats["cases_by_source"] == {"outreach": 2}
    assert stats["median_days_to_resolution"] == 0


async def test_a_visit_reported_twice_opens_one_case_and_an_unknown_category_counts_as_other() -> (
    None
):
    scenario = await station()

    first = await scenario.when(visit("visit-x", on_site=False, category="noise_at_night"))
    again = await scenario.when(visit("visit-x", on_site=False))

    assert first.one(m.CaseOpened).category == "other"
    assert again.events == [], "the case is open already; a fact is never refused aloud"


async def test_urgent_cases_go_to_the_station_full_time_mediator_first() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(
        mediator("village-x", "village", ("family",), blocks=("block-03",)),
        mediator("full-time", "station_full_time", ("family",)),
    )

    normal = await scenario.when(dispute("d-normal", "family"))
    urgent = await scenario.when(dispute("d-urgent", "family", urgency="high"))

    assert normal.one(m.MediatorAssigned).mediator_id == "village-x"
    assert normal.one(m.MediatorAssigned).reason == "serves_block"
    assert urgent.one(m.MediatorAssigned).mediator_id == "full-time"
    assert urgent.one(m.MediatorAssigned).reason == "urgent_station_full_time"


async def test_nobody_with_room_escalates_once_and_the_case_waits_for_a_mediator() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(lu(max_active_cases=1), dispute("first"))

    waiting = await scenario.when(dispute("second"))
    other = await scenario.when(mediator("c", specialties=("family",)))
    registered = await scenario.when(
        mediator("lawyer", "lawyer", ("construction_payment",), max_active_cases=2)
    )

    escalated = waiting.one(m.CaseEscalated)
    assert (escalated.reason, escalated.referred_to) == ("no_mediator_available", "station")
    assert waiting.of(m.MediatorAssigned) == []
    assert other.of(m.MediatorAssigned) == [], "no specialty, no case"
    assert other.of(m.CaseEscalated) == [], "escalated once while it waits"
    late = registered.one(m.MediatorAssigned)
    assert (late.case_id, late.mediator_id) == ("case-second", "lawyer")
    assert (await case_state(scenario, "case-second")).status == "in_mediation"


async def test_a_freed_slot_goes_to_the_waiting_case_urgent_first() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(lu(max_active_cases=1), dispute("busy"))
    await scenario.given(dispute("waits-normal"), dispute("waits-urgent", urgency="high"))
    await scenario.given(session("case-busy", "agreement", terms=AGREEMENT[:1]))

    freed = await scenario.when(check("case-busy", 0))

    assert freed.one(m.CaseResolved).case_id == "case-busy"
    assert freed.one(m.MediatorAssigned).case_id == "case-waits-urgent"
    assert await load(scenario, "lu") == ["case-waits-urgent"]
    assert (await case_state(scenario, "case-waits-normal")).status == "waiting"


async def test_sessions_without_agreement_escalate_to_court_after_the_configured_number() -> None:
    scenario = await station(max_sessions_without_agreement=2)
    await scenario.given(dispute("stubborn"))

    adjourned = await scenario.when(session("case-stubborn", "adjourned"))
    first = await scenario.when(session("case-stubborn", "no_agreement"))
    second = await scenario.when(session("case-stubborn", "no_agreement"))

    assert adjourned.one(m.SessionRecorded).sessions_without_agreement == 0
    assert first.types == ["mediation.session_recorded"]
    escalated = second.one(m.CaseEscalated)
    assert (escalated.reason, escalated.referred_to, escalated.sessions) == (
        "no_agreement",
        "court",
        3,
    )
    assert await load(scenario, "lu") == []
    late = await scenario.when(session("case-stubborn", "adjourned"))
    assert late.rejected == "case_closed"


async def test_an_obligation_not_fulfilled_escalates_and_frees_the_slot() -> None:
    scenario = await station()
    await scenario.given(dispute("broken"))
    await scenario.given(session("case-broken", "agreement", terms=AGREEMENT))

    breached = await scenario.when(check("case-broken", 1, fulfilled=False))

    escalated = breached.one(m.CaseEscalated)
    assert (escalated.reason, escalated.referred_to) == ("obligation_breached", "court")
    assert breached.one(m.ObligationChecked).fulfilled is False
    assert await load(scenario, "lu") == []
    stats = await scenario.stats()
    assert stats["escalations_by_reason"] == {"obligation_breached": 1}
    assert stats["resolution_rate"] == 0.0


async def test_a_redelivered_command_has_no_second_effect() -> None:
    scenario = await station()

    first = await scenario.when(dispute("twice"), id="report-1")
    again = await scenario.when(dispute("twice"), id="report-1")
    other = await scenario.when(dispute("twice"))

    assert first.one(m.CaseOpened).case_id == "case-twice"
    assert again.events == []
    assert other.rejected == "dispute_already_reported"
    assert await load(scenario, "lu") == ["case-twice"]
