"""Re-planning an alert: declines, expiries, growth, deliveries and resolution interleaved.

The quantity still to plan must always be surplus - (open and delivered promises) -
escalated, and a resolved alert plans nothing more (issue: "Delivery holes", 6 and 7).
"""

import random
from datetime import timedelta

import pytest

from services.enterprise import messages as m
from services.enterprise.app import SERVICE
from services.enterprise.settings import EnterpriseSettings
from services.enterprise.state import AlertState, EnterpriseState
from shared.testing import Outcome, Scenario
from tests.unit.test_enterprise_rules import BUTANONE, deliver, demand, inventory, register, respond

DEADLINE_S = 3600


async def _market(recipients: int = 3) -> Scenario[EnterpriseSettings]:
    scenario = Scenario(SERVICE, response_deadline_s=DEADLINE_S)
    await scenario.given(register("source", 0, 20_000))
    for n in range(recipients):
        await scenario.given(register(f"r{n}", 2 + 3 * n, 5_000), demand(f"r{n}", 4_000))
    return scenario


async def _alert(scenario: Scenario[EnterpriseSettings], alert_id: str) -> AlertState:
    state = await scenario.state("alerts", alert_id, AlertState)
    assert state is not None
    return state


async def test_a_decline_after_the_alert_resolved_plans_nothing_and_proposals_are_withdrawn() -> (
    None
):
    scenario = await _market()
    bought = await scenario.when(inventory("source", "purchase", 22_000))
    [to_r0] = bought.one(m.RedistributionProposed).transfers

    resolved = await scenario.when(inventory("source", "consumption", 2_000))
    late = await scenario.when(respond(to_r0, accepted=False))
    expiry = await scenario.advance(timedelta(seconds=DEADLINE_S + 60))

    assert resolved.one(m.AlertResolved).stock_kg == 20_000
    withdrawn = resolved.one(m.TransferWithdrawn)
    assert (withdrawn.transfer_id, withdrawn.reason) == (to_r0.transfer_id, "alert_resolved")
    assert late.rejected == "transfer_not_open"
    assert expiry.events == [], "the deadline went with the proposal"
    r0 = await scenario.state("enterprises", "r0", EnterpriseState)
    assert r0 is not None
    assert r0.promises == {}, "the reservation is released"


async def test_a_decline_read_after_the_resolution_plans_nothing() -> None:
    """The decline fact and the resolution travel on different partitions."""
    scenario = await _market()
    proposal = (await scenario.when(inventory("source", "purchase", 22_000))).one(
        m.RedistributionProposed
    )
    [to_r0] = proposal.transfers
    await scenario.given(inventory("source", "consumption", 2_000))

    outcome = await scenario.when(
        m.TransferDeclined(
            transfer_id=to_r0.transfer_id,
            alert_id=proposal.alert_id,
            to_enterprise_id="r0",
            reason="no room",
            quantity_kg=to_r0.quantity_kg,
        )
    )

    assert outcome.of(m.RedistributionProposed) == []
    assert outcome.of(m.RedistributionEscalated) == []


async def test_a_resolution_read_before_its_alert_leaves_nothing_to_plan() -> None:
    scenario = await _market()
    bought = await scenario.when(inventory("source", "purchase", 22_000))
    alert = bought.one(m.OverCapacityDetected)
    scenario2 = await _market()

    await scenario2.when(
        m.AlertResolved(
            alert_id=alert.alert_id,
            enterprise_id="source",
            cas=BUTANONE,
            stock_kg=20_000,
            capacity_kg=20_000,
        )
    )
    late = await scenario2.when(alert)

    assert late.of(m.RedistributionProposed) == []


async def test_growth_after_a_replanned_decline_is_planned() -> None:
    scenario = await _market()
    first = (await scenario.when(inventory("source", "purchase", 22_000))).one(
        m.RedistributionProposed
    )
    replanned = (await scenario.when(respond(first.transfers[0], accepted=False))).one(
        m.RedistributionProposed
    )

    grown = await scenario.when(inventory("source", "purchase", 1_000))

    assert [(t.to_enterprise_id, t.quantity_kg) for t in replanned.transfers] == [("r1", 2_000)]
    assert grown.one(m.AlertGrown).surplus_kg == 3_000
    extra = grown.one(m.RedistributionProposed)
    assert [(t.to_enterprise_id, t.quantity_kg) for t in extra.transfers] == [("r1", 1_000)]
    assert (await _alert(scenario, first.alert_id)).unplanned_kg() == 0


async def test_a_short_delivery_plans_the_rest_again() -> None:
    scenario = await _market()
    [to_r0] = (
        (await scenario.when(inventory("source", "purchase", 23_000)))
        .one(m.RedistributionProposed)
        .transfers[:1]
    )
    await scenario.given(respond(to_r0, accepted=True))

    outcome = await scenario.when(deliver(to_r0, to_r0.quantity_kg - 500))

    rest = outcome.one(m.RedistributionProposed)
    assert sum(t.quantity_kg for t in rest.transfers) == 500


def _check_invariants(alert: AlertState, promised: float, proposals_after_resolution: int) -> None:
    if alert.status == "open":
        assert alert.pending == {}
        assert alert.unplanned_kg() == 0, alert
    else:
        assert proposals_after_resolution == 0
    assert promised == pytest.approx(alert.open_kg()), "reservations match the open transfers"


@pytest.mark.parametrize("seed", range(25))
async def test_random_interleavings_keep_the_plan_whole(seed: int) -> None:
    rng = random.Random(seed)
    scenario = await _market(recipients=4)
    await scenario.given(inventory("source", "stocktake", 20_000))  # at the limit
    proposed: dict[str, m.ProposedTransfer] = {}
    resolved: set[str] = set()

    def track(outcome: Outcome) -> int:
        late = 0
        for proposal in outcome.of(m.RedistributionProposed):
            late += proposal.alert_id in resolved
            proposed.update({t.transfer_id: t for t in proposal.transfers})
        for event in outcome.of(m.TransferDeclined) + outcome.of(m.TransferWithdrawn):
            proposed.pop(event.transfer_id, None)
        for done in outcome.of(m.TransferAccepted):
            proposed.pop(done.transfer_id, None)
        resolved.update(r.alert_id for r in outcome.of(m.AlertResolved))
        return late

    late = 0
    for _ in range(12):
        step = rng.choice(["grow", "grow", "decline", "expire", "deliver", "consume"])
        open_transfers = sorted(proposed)
        if step == "grow":
            outcome = await scenario.when(inventory("source", "purchase", rng.randint(1, 30) * 100))
        elif step == "consume":
            source = await scenario.state("enterprises", "source", EnterpriseState)
            stock = source.stock.get(BUTANONE, 0.0) if source else 0.0
            amount = min(stock, rng.randint(1, 30) * 100)
            outcome = await scenario.when(inventory("source", "consumption", amount))
        elif step == "expire":
            outcome = await scenario.advance(timedelta(seconds=DEADLINE_S + 1))
        elif open_transfers and step == "decline":
            outcome = await scenario.when(
                respond(proposed[rng.choice(open_transfers)], accepted=False)
            )
        elif open_transfers:
            transfer = proposed[rng.choice(open_transfers)]
            accepted = await scenario.when(respond(transfer, accepted=True))
            late += track(accepted)
            outcome = await scenario.when(
                deliver(transfer, rng.choice([1.0, 0.5]) * transfer.quantity_kg)
            )
        else:
            continue
        late += track(outcome)
        for doc in await scenario.db["alerts"].find({}).to_list():
            alert = AlertState.model_validate(doc["state"])
            promised = 0.0
            for edoc in await scenario.db["enterprises"].find({}).to_list():
                state = EnterpriseState.model_validate(edoc["state"])
                promised += sum(
                    p.quantity_kg for p in state.promises.values() if p.alert_id == alert.alert_id
                )
            _check_invariants(alert, promised, late)
