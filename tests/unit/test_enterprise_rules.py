"""The enterprise service's rules through its real wiring, in memory (shared.testing).

The seed story (domain.md, story 2): a synthetic-leather company bought 30 t of butanone
for a warehouse permitted 20 t; the surplus goes to licensed companies nearby that need
it. Delivery, atomicity and concurrency are tested on Kafka and FerretDB elsewhere.
"""

from datetime import timedelta

import pytest

from services.enterprise import messages as m
from services.enterprise.app import SERVICE
from services.enterprise.settings import EnterpriseSettings
from services.enterprise.state import EnterpriseState, TransferState
from shared import Command
from shared.testing import Scenario

BUTANONE = "78-93-3"
CAT3 = ["drug_precursor_3", "hazardous"]


def register(eid: str, km: float, capacity_kg: float, licences: list[str] = CAT3) -> Command:
    return m.RegisterEnterprise.model_validate(
        {
            "enterprise_id": eid,
            "name": eid.upper(),
            "address": f"{km} km east of the leather works",
            "location": {"lat": 28.45, "lon": 119.92 + km / 97.83},
            "licences": licences,
            "liaison_officer": {
                "officer_id": f"officer-{eid}",
                "name": "Lü",
                "phone": "13800000000",
            },
            "contact": {"name": f"{eid} manager", "phone": "13900000000"},
            "storage": [{"cas": BUTANONE, "capacity_kg": capacity_kg}],
        }
    )


def demand(eid: str, kg: float) -> m.DeclareDemand:
    return m.DeclareDemand(enterprise_id=eid, cas=BUTANONE, quantity_kg=kg)


def inventory(eid: str, movement: m.Movement, kg: float, cas: str = BUTANONE) -> Command:
    return m.DeclareInventory(enterprise_id=eid, cas=cas, movement=movement, quantity_kg=kg)


def respond(t: m.ProposedTransfer, accepted: bool, by: str | None = None) -> Command:
    return m.RespondToTransfer(
        transfer_id=t.transfer_id,
        enterprise_id=by or t.to_enterprise_id,
        accepted=accepted,
        reason=None if accepted else "no room this month",
    )


def deliver(t: m.ProposedTransfer, kg: float | None = None) -> m.ConfirmDelivery:
    return m.ConfirmDelivery(
        transfer_id=t.transfer_id, delivered_kg=t.quantity_kg if kg is None else kg
    )


async def seeded() -> Scenario[EnterpriseSettings]:
    """The leather company and its neighbours, with their open demands."""
    scenario = Scenario(SERVICE)
    await scenario.given(
        register("leather", 0, 20_000),
        register("chem-a", 3, 10_000),
        register("chem-b", 8, 10_000),
        register("chem-far", 35, 30_000),
        register("unlicensed", 1.5, 90_000, licences=["hazardous"]),
        demand("chem-a", 6_000),
        demand("chem-b", 8_000),
        demand("chem-far", 20_000),
        demand("unlicensed", 50_000),
    )
    return scenario


def placed(proposal: m.RedistributionProposed) -> list[tuple[str, float]]:
    return [(t.to_enterprise_id, t.quantity_kg) for t in proposal.transfers]


async def test_seed_story_surplus_proposed_declined_replanned_delivered_resolved() -> None:
    scenario = await seeded()

    bought = await scenario.when(inventory("leather", "purchase", 30_000))
    alert = bought.one(m.OverCapacityDetected)
    proposal = bought.one(m.RedistributionProposed)
    assert (alert.surplus_kg, alert.stock_kg, alert.capacity_kg) == (10_000, 30_000, 20_000)
    assert alert.chemical_name == "丁酮"
    assert alert.liaison_officer.officer_id == "officer-leather"
    assert placed(proposal) == [("chem-a", 6_000), ("chem-b", 4_000)]
    to_a, to_b = proposal.transfers

    declined = await scenario.when(respond(to_b, accepted=False))
    replanned = declined.one(m.RedistributionProposed)
    assert declined.one(m.TransferDeclined).reason == "no room this month"
    assert placed(replanned) == [("chem-far", 4_000)]
    [to_far] = replanned.transfers

    await scenario.given(respond(to_a, accepted=True), respond(to_far, accepted=True))
    first = await scenario.when(deliver(to_a))
    second = await scenario.when(deliver(to_far))

    assert first.of(m.AlertResolved) == []
    resolved = second.one(m.AlertResolved)
    assert resolved.alert_id == alert.alert_id
    assert resolved.stock_kg == 20_000
    chem_a = await scenario.state("enterprises", "chem-a", EnterpriseState)
    assert chem_a is not None
    assert (chem_a.stock[BUTANONE], chem_a.demand[BUTANONE], chem_a.promises) == (6_000, 0, {})
    stats = await scenario.stats()
    assert stats["kg_redistributed"] == 10_000
    assert stats["alerts_resolved"] == 1
    assert stats["transfers_by_state"] == {"completed": 2, "declined": 1}


async def test_no_eligible_recipient_escalates_at_once() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(
        register("lonely", 0, 1_000),
        register("unlicensed", 2, 90_000, licences=["hazardous"]),
        demand("unlicensed", 5_000),
    )

    outcome = await scenario.when(inventory("lonely", "purchase", 3_500))

    escalated = outcome.one(m.RedistributionEscalated)
    assert (escalated.unallocated_kg, escalated.reason) == (2_500, "no_eligible_recipient")
    assert outcome.of(m.RedistributionProposed) == []


async def test_no_answer_within_the_deadline_expires_releases_and_escalates() -> None:
    scenario = Scenario(SERVICE, response_deadline_s=3600)
    await scenario.given(
        register("leather", 0, 20_000), register("chem-a", 3, 10_000), demand("chem-a", 6_000)
    )
    proposal = (await scenario.when(inventory("leather", "purchase", 23_000))).one(
        m.RedistributionProposed
    )

    early = await scenario.advance(timedelta(minutes=59))
    late = await scenario.advance(timedelta(minutes=2))

    assert early.events == []
    assert late.one(m.TransferDeclined).reason == "expired"
    escalated = late.one(m.RedistributionEscalated)
    assert (escalated.unallocated_kg, escalated.reason) == (3_000, "expired")
    assert escalated.alert_id == proposal.alert_id
    chem_a = await scenario.state("enterprises", "chem-a", EnterpriseState)
    assert chem_a is not None
    assert chem_a.promises == {}, "an expired transfer releases its reservation"


async def test_an_answer_cancels_the_deadline() -> None:
    scenario = Scenario(SERVICE, response_deadline_s=3600)
    await scenario.given(
        register("leather", 0, 20_000), register("chem-a", 3, 10_000), demand("chem-a", 6_000)
    )
    [transfer] = (
        (await scenario.when(inventory("leather", "purchase", 23_000)))
        .one(m.RedistributionProposed)
        .transfers
    )
    deadline = {"_id": f"deadline:{transfer.transfer_id}"}
    assert await scenario.db["timers"].find_one(deadline) is not None
    await scenario.given(respond(transfer, accepted=True))
    assert await scenario.db["timers"].find_one(deadline) is None, "the answer cancels it"

    after = await scenario.advance(timedelta(hours=2))

    assert after.events == []
    state = await scenario.state("transfers", transfer.transfer_id, TransferState)
    assert state is not None
    assert state.status == "accepted"


async def test_a_larger_surplus_grows_the_open_alert_and_consumption_resolves_it() -> None:
    scenario = await seeded()
    first = await scenario.when(inventory("leather", "purchase", 30_000))
    alert = first.one(m.OverCapacityDetected)

    grown = await scenario.when(inventory("leather", "purchase", 2_000))
    resolved = await scenario.when(inventory("leather", "consumption", 12_000))

    assert grown.of(m.OverCapacityDetected) == [], "one alert per excursion"
    assert grown.one(m.AlertGrown).surplus_kg == 12_000
    # the extra 2 t go to chem-b, whose need (8 t) was 4 t covered
    assert placed(grown.one(m.RedistributionProposed)) == [("chem-b", 2_000)]
    assert resolved.one(m.AlertResolved).alert_id == alert.alert_id
    assert (await scenario.stats())["alerts_open"] == 0


async def test_re_registering_with_a_larger_permit_resolves_the_alert() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(register("leather", 0, 20_000))
    alert = (await scenario.when(inventory("leather", "purchase", 30_000))).one(
        m.OverCapacityDetected
    )

    outcome = await scenario.when(register("leather", 0, 40_000))

    resolved = outcome.one(m.AlertResolved)
    assert (resolved.alert_id, resolved.capacity_kg) == (alert.alert_id, 40_000)
    assert outcome.one(m.EnterpriseRegistered).storage[0].capacity_kg == 40_000
    assert outcome.of(m.InventoryChanged) == [], "a new permit is not a stock movement"


async def test_bad_commands_are_rejected_with_a_reason_and_change_nothing() -> None:
    scenario = await seeded()
    proposal = (await scenario.when(inventory("leather", "purchase", 30_000))).one(
        m.RedistributionProposed
    )
    transfer = proposal.transfers[0]
    before = {
        eid: await scenario.state("enterprises", eid, EnterpriseState)
        for eid in ("chem-a", "chem-far")
    }
    bad = {
        "unknown_enterprise": inventory("nobody", "purchase", 1),
        "unknown_cas": inventory("chem-a", "purchase", 1, cas="00-00-0"),
        "negative_quantity": inventory("chem-a", "purchase", -5),
        "insufficient_stock": inventory("chem-a", "consumption", 1),
        "not_the_recipient": respond(transfer, accepted=True, by="chem-far"),
        "unknown_transfer": deliver(transfer.model_copy(update={"transfer_id": "no-such"})),
        "transfer_not_accepted": deliver(transfer),
    }

    for reason, command in bad.items():
        outcome = await scenario.when(command)
        assert outcome.rejected == reason, outcome.types
        assert outcome.rejections[0].errors, "a rejection says what was wrong"
        assert len(outcome.events) == 1, "a rejection and nothing else"
    for eid, state in before.items():
        assert await scenario.state("enterprises", eid, EnterpriseState) == state


@pytest.mark.parametrize(
    ("delivered_kg", "reason"), [(-1, "negative_quantity"), (6_000.5, "more_than_promised")]
)
async def test_a_delivery_is_never_negative_nor_more_than_promised(
    delivered_kg: float, reason: str
) -> None:
    scenario = await seeded()
    [to_a, _] = (
        (await scenario.when(inventory("leather", "purchase", 30_000)))
        .one(m.RedistributionProposed)
        .transfers
    )
    await scenario.given(respond(to_a, accepted=True))

    outcome = await scenario.when(deliver(to_a, delivered_kg))

    assert outcome.rejected == reason


async def test_a_redelivered_command_has_no_second_effect() -> None:
    scenario = await seeded()

    first = await scenario.when(inventory("chem-a", "purchase", 10), id="purchase-1")
    again = await scenario.when(inventory("chem-a", "purchase", 10), id="purchase-1")

    assert first.one(m.InventoryChanged).stock_kg == 10
    assert again.events == []
    chem_a = await scenario.state("enterprises", "chem-a", EnterpriseState)
    assert chem_a is not None
    assert chem_a.stock[BUTANONE] == 10


async def test_an_unknown_chemical_in_a_registration_is_refused() -> None:
    scenario = Scenario(SERVICE)
    command = register("odd", 0, 1_000).model_copy(
        update={"storage": [m.PermittedStorage(cas="00-00-0", capacity_kg=1)]}
    )

    outcome = await scenario.when(command)

    assert outcome.rejected == "unknown_cas"
    assert await scenario.state("enterprises", "odd", EnterpriseState) is None
