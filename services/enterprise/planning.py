"""Rules of the redistribution flow, one decision per aggregate it touches (pure).

The flow (redistribution.py) applies them in idempotent steps: the alert records what
it intends, each recipient reserves what it can, the alert settles on what was
reserved; a delivery ships, receives and settles.
"""

from services.enterprise import messages as m
from services.enterprise.domain import AlertIdFor, stock_changed
from services.enterprise.matcher import Plan, kg, reservable_kg
from services.enterprise.state import (
    AlertState,
    EnterpriseState,
    PendingPlan,
    PlannedTransfer,
    Promise,
)
from shared import Change, Fact


def new_alert(alert_id: str, enterprise_id: str, cas: str) -> AlertState:
    return AlertState(alert_id=alert_id, enterprise_id=enterprise_id, cas=cas)


def intend(
    before: AlertState | None,
    current: AlertState,
    *,
    key: str,
    quantity_kg: float,
    reason: m.EscalationReason,
    plan: Plan,
    transfer_id_for: dict[str, str],
) -> Change[AlertState] | None:
    """The alert records the plan for one cause, in the write that commits its quantity."""
    if quantity_kg <= 0:
        return Change(current) if before is None or current != before else None
    intents = [
        m.ProposedTransfer(
            transfer_id=transfer_id_for[t.to_enterprise_id],
            to_enterprise_id=t.to_enterprise_id,
            to_name=t.to_name,
            quantity_kg=t.quantity_kg,
            distance_km=t.distance_km,
        )
        for t in plan.transfers
    ]
    pending = {
        **current.pending,
        key: PendingPlan(quantity_kg=quantity_kg, reason=reason, intents=intents),
    }
    committed = kg(current.committed_kg + quantity_kg)
    return Change(current.model_copy(update={"pending": pending, "committed_kg": committed}))


def reserve(
    state: EnterpriseState | None,
    intent: m.ProposedTransfer,
    *,
    cas: str,
    alert_id: str,
    source_id: str,
) -> Change[EnterpriseState] | None:
    """A recipient promises what it can of an intended transfer: never beyond room or need.

    Written even when nothing is granted, so a replay cannot grant later.
    """
    if state is None:
        return None
    granted = reservable_kg(
        wanted_kg=intent.quantity_kg,
        capacity_kg=state.storage.get(cas, 0.0),
        stock_kg=state.stock.get(cas, 0.0),
        demand_kg=state.demand.get(cas, 0.0),
        promised_kg=state.promised_kg(cas),
    )
    promises = dict(state.promises)
    if granted > 0:
        promises[intent.transfer_id] = Promise(
            cas=cas, quantity_kg=granted, alert_id=alert_id, from_enterprise_id=source_id
        )
    return Change(state.model_copy(update={"promises": promises}))


def without_promise(
    state: EnterpriseState | None, transfer_id: str
) -> Change[EnterpriseState] | None:
    """A declined or expired transfer frees what it had reserved."""
    if state is None or transfer_id not in state.promises:
        return None
    promises = {k: v for k, v in state.promises.items() if k != transfer_id}
    return Change(state.model_copy(update={"promises": promises}))


def settle_plan(
    state: AlertState | None, *, key: str, placed: list[m.ProposedTransfer]
) -> Change[AlertState] | None:
    """The alert records what was reserved: a proposal, and an escalation of the rest."""
    if state is None or key not in state.pending:
        return None
    pending = state.pending[key]
    unallocated = kg(pending.quantity_kg - sum(t.quantity_kg for t in placed))
    transfers = {
        **state.transfers,
        **{t.transfer_id: PlannedTransfer(**dict(t)) for t in placed},
    }
    update: dict[str, object] = {
        "transfers": transfers,
        "pending": {k: v for k, v in state.pending.items() if k != key},
    }
    facts: list[Fact] = []
    if placed:
        facts.append(
            m.RedistributionProposed(
                alert_id=state.alert_id,
                source_enterprise_id=state.enterprise_id,
                cas=state.cas,
                surplus_kg=state.surplus_kg,
                transfers=placed,
                unallocated_kg=unallocated,
            )
        )
    if unallocated > 0:
        update["escalated_kg"] = kg(state.escalated_kg + unallocated)
        update["escalations"] = state.escalations + 1
        facts.append(
            m.RedistributionEscalated(
                alert_id=state.alert_id,
                enterprise_id=state.enterprise_id,
                cas=state.cas,
                unallocated_kg=unallocated,
                reason=pending.reason,
            )
        )
    return Change(state.model_copy(update=update), facts)


def ship(
    state: EnterpriseState | None, done: m.TransferCompleted, alert_id_for: AlertIdFor
) -> Change[EnterpriseState] | None:
    """The source's stock goes down by what was delivered."""
    if state is None:
        return None
    stock = kg(max(0.0, state.stock.get(done.cas, 0.0) - done.quantity_kg))
    return stock_changed(
        state,
        done.cas,
        stock,
        movement="transfer_out",
        quantity=done.quantity_kg,
        alert_id_for=alert_id_for,
    )


def receive(
    state: EnterpriseState | None, done: m.TransferCompleted, alert_id_for: AlertIdFor
) -> Change[EnterpriseState] | None:
    """The recipient's stock goes up, its demand down, and the promise ends."""
    if state is None:
        return None
    stock = kg(state.stock.get(done.cas, 0.0) + done.quantity_kg)
    demand = kg(max(0.0, state.demand.get(done.cas, 0.0) - done.quantity_kg))
    base = state.model_copy(
        update={
            "demand": {**state.demand, done.cas: demand},
            "promises": {k: v for k, v in state.promises.items() if k != done.transfer_id},
        }
    )
    return stock_changed(
        base,
        done.cas,
        stock,
        movement="transfer_in",
        quantity=done.quantity_kg,
        alert_id_for=alert_id_for,
    )


def delivered(state: AlertState | None, done: m.TransferCompleted) -> Change[AlertState] | None:
    """The alert counts what was redistributed."""
    if state is None or done.transfer_id not in state.transfers:
        return None
    transfer = state.transfers[done.transfer_id].model_copy(
        update={"status": "completed", "delivered_kg": done.quantity_kg}
    )
    return Change(
        state.model_copy(
            update={
                "transfers": {**state.transfers, done.transfer_id: transfer},
                "redistributed_kg": kg(state.redistributed_kg + done.quantity_kg),
            }
        )
    )


def close(state: AlertState | None) -> Change[AlertState] | None:
    """Stock is back within the permit: the alert is closed."""
    if state is None or state.status == "resolved":
        return None
    return Change(state.model_copy(update={"status": "resolved"}))
