"""No stored document that commands can grow reaches MongoDB's 16 MiB.

Where one document holds what many commands add (the roster, a block's households, the
home-service agenda) a business rule caps it, refused with its own reason; each test
below builds the largest document the command bounds and the caps allow, with contents
that do not compress (random ids, four-byte characters), and measures its BSON.
"""

import random
import string
from datetime import UTC, date, datetime, timedelta
from typing import Any

import bson
import pytest

from services.enterprise import messages as em
from services.enterprise import state as enterprise_state
from services.enterprise.catalogue import CATALOGUE, ControlCategory
from services.enterprise.messages import STORAGE_MAX
from services.enterprise.state import AlertState, EnterpriseState
from services.mediation import mediators
from services.mediation.app import SERVICE as MEDIATION
from services.mediation.messages import (
    BLOCKS_MAX,
    CATEGORIES,
    MAX_ACTIVE_CASES,
    PARTIES_MAX,
    TERMS_MAX,
)
from services.mediation.state import CaseState, MediatorState, WaitingList
from services.outreach import domain, homeservice, roster, visits
from services.outreach import messages as om
from services.outreach.settings import OutreachSettings
from services.outreach.state import (
    AgendaState,
    BlockVisitsState,
    Booking,
    HomeServiceState,
    HouseholdState,
    Quota,
    RegistryEntry,
    RegistryState,
    Reservation,
    RosterEntry,
    RosterState,
)
from services.outreach.vocabulary import MEMBERS_MAX, all_blocks
from shared import State
from shared._kit.fields import ID_MAX, NAME_MAX, SHORT_TEXT_MAX, TEXT_MAX
from shared.testing import Scenario
from tests.unit.test_enterprise_rules import inventory, placed, seeded
from tests.unit.test_mediation_rules import dispute, lu
from tests.unit.test_outreach_builders import (
    home_request,
    household,
    scenario,
    volunteer,
    warning,
)

MIB = 1024 * 1024
# the inbox and outbox share the document (shared/_kit/aggregates.py): the state must
# leave them room, so it stays under half the limit
STATE_BUDGET = 8 * MIB
rng = random.Random(22)
# the most blocks the settings allow (block-01 … block-99)
BLOCKS = all_blocks(OutreachSettings.model_fields["blocks"].metadata[-1].le)
AT = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)


def an_id(length: int = ID_MAX) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=length))


def text(length: int) -> str:
    """Four bytes a character in UTF-8 (CJK extension B), in no order a compressor likes."""
    return "".join(chr(rng.randrange(0x20000, 0x2A6DF)) for _ in range(length))


def bson_size(aggregate_id: str, state: State) -> int:
    """The stored document's size, as the aggregate store writes its state."""
    return len(bson.encode({"_id": aggregate_id, "state": state.model_dump(mode="json")}))


def test_the_largest_roster_stays_far_below_16_mib() -> None:
    slots = roster.MAX_SLOTS // roster.MAX_VOLUNTEERS
    volunteers = [
        RosterEntry(
            volunteer_id=an_id(),
            name=text(NAME_MAX),
            organisation="womens_federation",
            blocks=BLOCKS,
            phone="0571-12345678",
            max_open_visits=slots,
            open_visits=slots,
        )
        for _ in range(roster.MAX_VOLUNTEERS)
    ]
    # every reserved slot in a quota of its own, each naming a volunteer and a block
    quotas = [
        Quota(block=BLOCKS[-1], volunteer_id=an_id(), count=1) for _ in range(roster.MAX_SLOTS)
    ]
    pending = [
        Reservation(key=an_id(128), at=AT, quotas=quotas[n : n + 1000])
        for n in range(0, len(quotas), 1000)
    ]
    state = RosterState(
        volunteers=volunteers,
        backlog=dict.fromkeys(BLOCKS, 10**9),
        backlog_seen=dict.fromkeys(BLOCKS, 10**9),
        pending=pending,
    )

    size = bson_size("roster", state)

    assert size < STATE_BUDGET, f"{size / MIB:.1f} MiB"


def test_the_largest_block_registry_stays_far_below_16_mib() -> None:
    entries = [
        RegistryEntry(
            household_id=an_id(),
            business_type=text(SHORT_TEXT_MAX),
            oldest_age=150,
            lives_alone_elderly=True,
            prior_fraud_victim=True,
        )
        for _ in range(domain.MAX_HOUSEHOLDS_PER_BLOCK)
    ]
    state = RegistryState(block=BLOCKS[-1], households=entries, size=len(entries))

    size = bson_size(BLOCKS[-1], state)

    assert size < STATE_BUDGET, f"{size / MIB:.1f} MiB"


def test_the_fullest_agenda_stays_far_below_16_mib() -> None:
    start = date(2026, 6, 3)
    bookings = [
        Booking(day=start + timedelta(days=n % 365), officer_id=an_id(), request_id=an_id())
        for n in range(homeservice.MAX_BOOKINGS)
    ]

    size = bson_size("agenda", AgendaState(bookings=bookings))

    assert size < STATE_BUDGET, f"{size / MIB:.1f} MiB"


def test_the_largest_enterprise_mediator_and_case_stay_small() -> None:
    person = {"name": text(NAME_MAX), "phone": "0571-12345678"}
    enterprise = EnterpriseState.model_validate(
        {
            "enterprise_id": an_id(),
            "name": text(NAME_MAX),
            "address": text(SHORT_TEXT_MAX),
            "location": {"lat": -89.999999, "lon": -179.999999},
            "licences": list(ControlCategory),
            "liaison_officer": {**person, "officer_id": an_id()},
            "contact": person,
            # the rules keep CAS numbers of the catalogue only; the schema allows STORAGE_MAX
            "storage": {an_id(): 1e8 for _ in range(max(STORAGE_MAX, len(CATALOGUE)))},
            "stock": dict.fromkeys(CATALOGUE, 1e8),
            "demand": dict.fromkeys(CATALOGUE, 1e8),
        }
    )
    mediator = MediatorState.model_validate(
        {
            "mediator_id": an_id(),
            "name": text(NAME_MAX),
            "kind": "station_full_time",
            "specialties": list(CATEGORIES),
            "blocks": [an_id() for _ in range(BLOCKS_MAX)],
            "phone": "0571-12345678",
            "max_active_cases": MAX_ACTIVE_CASES,
            "active_cases": [an_id() for _ in range(MAX_ACTIVE_CASES)],
        }
    )
    terms: list[dict[str, Any]] = [
        {
            "party": text(NAME_MAX),
            "obligation": text(SHORT_TEXT_MAX),
            "due_date": "2099-12-31",
            "overdue_at": AT,
            "fulfilled": False,
            "checked_at": AT,
        }
        for _ in range(TERMS_MAX)
    ]
    case = CaseState.model_validate(
        {
            "case_id": an_id(),
            "dispute_id": an_id(),
            "category": "construction_payment",
            "source": "police_call",
            "block": an_id(),
            "urgency": "high",
            "parties": [
                {"name": text(NAME_MAX), "role": "third_party", "phone": "0571-12345678"}
                for _ in range(PARTIES_MAX)
            ],
            "description": text(TEXT_MAX),
            "household_id": an_id(),
            "opened_at": AT,
            "terms": terms,
        }
    )

    sizes = [bson_size(s.__class__.__name__, s) for s in (enterprise, mediator, case)]

    assert max(sizes) < MIB // 4, sizes
    assert MEMBERS_MAX * (NAME_MAX * 4 + 64) < MIB // 4, "a household's members too"


def test_the_busiest_alert_and_recipient_stay_far_below_16_mib() -> None:
    def transfer(status: str) -> dict[str, Any]:
        return {
            "transfer_id": an_id(36),
            "to_enterprise_id": an_id(),
            "to_name": text(NAME_MAX),
            "quantity_kg": 12345678.912,
            "distance_km": 49.99,
            "status": status,
            "delivered_kg": 12345678.912,
        }

    half = enterprise_state.MAX_TRANSFERS_PER_ALERT // 2
    alert = AlertState.model_validate(
        {
            "alert_id": an_id(36),
            "enterprise_id": an_id(),
            "cas": an_id(),
            "surplus_kg": 1e8,
            "excluded": [an_id() for _ in range(enterprise_state.MAX_TRANSFERS_PER_ALERT)],
            "transfers": {an_id(36): transfer("declined") for _ in range(half)},
            "pending": {
                an_id(128): {
                    "quantity_kg": 1e8,
                    "reason": "declined",
                    "intents": [transfer("proposed") for _ in range(half)],
                }
            },
        }
    )
    promise = {"cas": an_id(), "quantity_kg": 1e8, "alert_id": an_id(36)}
    recipient = EnterpriseState.model_validate(
        {
            "enterprise_id": an_id(),
            "name": text(NAME_MAX),
            "address": text(SHORT_TEXT_MAX),
            "location": {"lat": 0, "lon": 0},
            "licences": list(ControlCategory),
            "liaison_officer": {"name": text(NAME_MAX), "phone": "13800000000", "officer_id": "o"},
            "contact": {"name": text(NAME_MAX), "phone": "13800000000"},
            "promises": {
                an_id(36): {**promise, "from_enterprise_id": an_id()}
                for _ in range(enterprise_state.MAX_OPEN_PROMISES)
            },
        }
    )

    sizes = [bson_size("alert", alert), bson_size("recipient", recipient)]

    assert max(sizes) < MIB, sizes
    assert alert.transfers_left == 0
    assert not recipient.takes_promises


def test_the_longest_waiting_list_stays_far_below_16_mib() -> None:
    waiting = WaitingList.model_validate(
        {
            "cases": [
                {
                    "case_id": f"case-{an_id(59)}",
                    "category": "construction_payment",
                    "urgency": "normal",
                    "opened_at": AT,
                }
                for _ in range(mediators.MAX_WAITING)
            ]
        }
    )

    size = bson_size("waiting", waiting)

    assert size < STATE_BUDGET, f"{size / MIB:.1f} MiB"


def test_the_fullest_block_of_visits_stays_far_below_16_mib() -> None:
    cap = visits.MAX_VISITS_PER_BLOCK
    records = [
        {
            "visit_id": f"{BLOCKS[-1]}/{an_id(20)}",
            "campaign_id": an_id(36),
            "household_id": an_id(),
            "priority": 10**6,
            "status": "not_home",
            "volunteer_id": an_id(),
            "due_by": AT,
            "attempts": 2,
            "not_before": AT,
            "avoid": an_id(),
            "reported_by": an_id(),
            "closed_at": AT,
        }
        for _ in range(cap)
    ]
    # every visit of a campaign of its own; two notes of freed slots for each
    refs = [
        {
            "campaign_id": r["campaign_id"],
            "scheme": "impersonate_police_procuratorate",
            "severity": "high",
            "topics": ["impersonate_police_procuratorate"],
            "launched_at": AT,
        }
        for r in records
    ]
    notes = [
        {"key": an_id(128), "at": AT, "volunteer_id": an_id(), "count": 100} for _ in range(2 * cap)
    ]
    state = BlockVisitsState.model_validate(
        {
            "block": BLOCKS[-1],
            "campaigns": refs,
            "visits": records,
            "notes": notes,
            "summary": {"not_home": cap},
        }
    )

    size = bson_size(BLOCKS[-1], state)

    assert size < STATE_BUDGET, f"{size / MIB:.1f} MiB"


# -- the caps are business rules: refused with their own reason, nothing changed ---------


async def test_a_volunteer_past_the_roster_cap_is_refused_as_roster_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(roster, "MAX_VOLUNTEERS", 2)
    sc = scenario()
    await sc.given(volunteer("v1", ["block-01"]), volunteer("v2", ["block-02"]))

    third = await sc.when(volunteer("v3", ["block-01"]))
    update = await sc.when(volunteer("v2", ["block-01", "block-02"]))

    assert third.rejected == "roster_full"
    assert "holds 2 volunteers" in third.rejections[0].errors[0]
    assert update.rejected is None, "a registered volunteer may still change"
    assert [v.volunteer_id for v in (await _roster(sc)).volunteers] == ["v1", "v2"]


async def test_a_maximum_past_the_roster_slots_is_refused_as_roster_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(roster, "MAX_SLOTS", 15)
    sc = scenario()
    await sc.given(volunteer("v1", ["block-01"], max_open=10))

    too_many = await sc.when(volunteer("v2", ["block-01"], max_open=6))
    fitting = await sc.when(volunteer("v2", ["block-01"], max_open=5))
    lowered = await sc.when(volunteer("v1", ["block-01"], max_open=9))

    assert too_many.rejected == "roster_full"
    assert "16 slots (at most 15); 5 are left" in too_many.rejections[0].errors[0]
    assert (fitting.rejected, lowered.rejected) == (None, None)


async def test_a_household_past_the_block_cap_is_refused_as_block_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(domain, "MAX_HOUSEHOLDS_PER_BLOCK", 2)
    sc = scenario()
    await sc.given(household("h1", "block-01"), household("h2", "block-01"))

    third = await sc.when(household("h3", "block-01"))
    again = await sc.when(household("h2", "block-01", ages=(46,)))
    elsewhere = await sc.when(household("h3", "block-02"))

    assert third.rejected == "block_full"
    assert (again.rejected, elsewhere.rejected) == (None, None)
    assert await sc.state("households", "h3", HouseholdState) is not None
    registry = await sc.state("registry", "block-01", RegistryState)
    assert registry is not None
    assert [e.household_id for e in registry.households] == ["h1", "h2"]


async def test_a_request_past_the_agenda_cap_is_refused_as_agenda_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(homeservice, "MAX_BOOKINGS", 1)
    sc = scenario()
    tomorrow = date(2026, 6, 4)
    await sc.given(volunteer("officer-lu", ["block-01"], org="police"))
    await sc.given(home_request("req-1", "block-01", [tomorrow]))

    second = await sc.when(home_request("req-2", "block-01", [tomorrow]))

    assert second.rejected == "agenda_full"
    assert await sc.state("home_services", "req-2", HomeServiceState) is None


async def _roster(sc: Scenario[OutreachSettings]) -> RosterState:
    found = await sc.state("roster", "roster", RosterState)
    assert found is not None
    return found


async def test_an_alert_plans_no_more_transfers_than_its_cap_and_escalates_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(enterprise_state, "MAX_TRANSFERS_PER_ALERT", 1)
    sc = await seeded()

    bought = await sc.when(inventory("leather", "purchase", 30_000))

    assert placed(bought.one(em.RedistributionProposed)) == [("chem-a", 6_000)]
    escalated = bought.one(em.RedistributionEscalated)
    assert (escalated.unallocated_kg, escalated.reason) == (4_000, "no_eligible_recipient")


async def test_a_recipient_with_its_fill_of_promises_is_passed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sc = await seeded()
    await sc.given(inventory("chem-far", "purchase", 31_000))  # chem-far's own alert: 1,000 kg
    monkeypatch.setattr(enterprise_state, "MAX_OPEN_PROMISES", 1)

    bought = await sc.when(inventory("leather", "purchase", 30_000))

    # chem-b, nearest to chem-far, holds its one promise: without the cap it would take
    # 4,000 kg of leather's surplus after chem-a, with it nobody else can
    assert placed(bought.one(em.RedistributionProposed)) == [("chem-a", 6_000)]
    assert bought.one(em.RedistributionEscalated).unallocated_kg == 4_000
    chem_b = await sc.state("enterprises", "chem-b", EnterpriseState)
    assert chem_b is not None
    assert len(chem_b.promises) == 1


async def test_a_dispute_past_the_waiting_list_cap_is_refused_as_waiting_list_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mediators, "MAX_WAITING", 1)
    sc = Scenario(MEDIATION)
    await sc.given(lu(), dispute("first", "family"))  # Lü takes no family dispute: it waits

    second = await sc.when(dispute("second", "family"))
    replayed = await sc.when(dispute("first", "family"))
    taken = await sc.when(dispute("wages", "labour_wage"))

    assert second.rejected == "waiting_list_full"
    assert await sc.state("cases", "case-second", CaseState) is None
    assert replayed.rejected == "dispute_already_reported", "an existing case is not refused"
    assert taken.rejected is None, "a dispute a mediator with room takes does not wait"


async def test_visits_past_the_block_cap_are_not_planned_lowest_priority_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(visits, "MAX_VISITS_PER_BLOCK", 3)
    sc = scenario()
    await sc.given(
        household("young", "block-01", ages=(30,)),
        household("old", "block-01", ages=(85,)),
        household("alone", "block-01", ages=(80,), alone=True),
        volunteer("v1", ["block-01"], max_open=10),
    )
    await sc.given(warning("w-1", scheme="fake_loan", all_households=True, blocks=["block-01"]))

    second = await sc.when(warning("w-2", scheme="fake_refund", min_age=60, blocks=["block-01"]))

    assert second.of(om.VisitAssigned) == []
    dropped = second.one(om.VisitsNotPlanned)
    assert (dropped.block, dropped.households_not_visited) == ("block-01", 2)
    block = await sc.state("visits_block-01", "block-01", BlockVisitsState)
    assert block is not None
    assert len(block.visits) == 3
    roster_now = await _roster(sc)
    assert roster_now.volunteers[0].open_visits == 3, "no slot stays reserved for them"
