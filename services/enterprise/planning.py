"""Rules of the redistribution flow, one decision per aggregate it touches (pure).

The flow (redistribution.py) applies them in idempotent steps: the alert records what
it intends, each recipient reserves what it can, the alert settles on what was
reserved; a delivery ships, receives and settles.
"""

from services.enterprise import messages as m
from services.enterprise.domain import AlertIdFor, stock_changed
from services.enterprise.matcher import Plan, kg, reservable_kg
from services.enterprise.state import (
    OPEN,
    AlertState,
    EnterpriseState,
    PendingPlan,
    PlannedTransfer,
    Promise,
    TransferState,
    TransferStatus,
)
from shared import Change, Fact


def new_alert(alert_id: str, enterprise_id: str, cas: str) -> AlertState:
    return AlertState(alert_id=alert_id, enterprise_id=enterprise_id, cas=cas)


def raised(state: AlertState | None, alert: m.OverCapacityDetected | m.AlertGrown) -> AlertState:
    """The alert as an opening or growth leaves it: its surplus is the largest seen."""
    current = state or new_alert(alert.alert_id, alert.enterprise_id, alert.cas)
    return current.model_copy(update={"surplus_kg": max(current.surplus_kg, alert.surplus_kg)})


def transfer_ended(
    state: AlertState, transfer_id: str, status: TransferStatus, recipient: str
) -> AlertState:
    """A transfer no longer promises anything (declined, expired): never that recipient again."""
    transfers = dict(state.transfers)
    if transfer_id in transfers and transfers[transfer_id].status in OPEN:
        transfers[transfer_id] = transfers[transfer_id].model_copy(update={"status": status})
    excluded = sorted({*state.excluded, recipient})
    return state.model_copy(update={"transfers": transfers, "excluded": excluded})


def intend(
    before: AlertState | None,
    current: AlertState,
    *,
    key: str,
    reason: m.EscalationReason,
    plan: Plan,
    transfer_id_for: dict[str, str],
) -> Change[AlertState] | None:
    """The alert records the plan for one cause, for what no plan covers yet, in the write
    that makes it covered. A resolved alert plans nothing more."""
    quantity_kg = current.unplanned_kg() if current.status == "open" else 0.0
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
    return Change(current.model_copy(update={"pending": pending}))


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
    # a full recipient (planned on an older view of it) grants nothing; the alert re-plans
    granted = (
        0.0
        if not state.takes_promises
        else reservable_kg(
            wanted_kg=intent.quantity_kg,
            capacity_kg=state.storage.get(cas, 0.0),
            stock_kg=state.stock.get(cas, 0.0),
            demand_kg=state.demand.get(cas, 0.0),
            promised_kg=state.promised_kg(cas),
        )
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
    """The alert records what was reserved: a proposal, and an escalation of the rest.

    If the alert was resolved while this plan was under way, nothing is proposed: what was
    reserved is recorded as withdrawn (the flow then withdraws it) and nothing escalated.
    """
    if state is None or key not in state.pending:
        return None
    pending = state.pending[key]
    rest = {k: v for k, v in state.pending.items() if k != key}
    if state.status == "resolved":
        withdrawn = {t.transfer_id: PlannedTransfer(**dict(t), status="withdrawn") for t in placed}
        return Change(
            state.model_copy(
                update={"pending": rest, "transfers": {**state.transfers, **withdrawn}}
            )
        )
    unallocated = kg(pending.quantity_kg - sum(t.quantity_kg for t in placed))
    transfers = {
        **state.transfers,
        **{t.transfer_id: PlannedTransfer(**dict(t)) for t in placed},
    }
    update: dict[str, object] = {"transfers": transfers, "pending": rest}
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


def withdrawn_ids(state: AlertState | None) -> list[str]:
    """The transfers an alert has withdrawn (their documents and reservations follow)."""
    if state is None:
        return []
    return sorted(tid for tid, t in state.transfers.items() if t.status == "withdrawn")


def withdraw(state: TransferState | None) -> Change[TransferState] | None:
    """A transfer still proposed when its alert resolved: it can no longer be answered."""
    if state is None or state.status != "proposed":
        return None
    return Change(
        state.model_copy(update={"status": "withdrawn"}),
        [
            m.TransferWithdrawn(
                transfer_id=state.transfer_id,
                alert_id=state.alert_id,
                to_enterprise_id=state.to_enterprise_id,
                quantity_kg=state.quantity_kg,
                reason="alert_resolved",
            )
        ],
    )


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


def close(state: AlertState | None, resolved: m.AlertResolved) -> Change[AlertState] | None:
    """Stock is back within the permit: the alert is closed, and what it still had only
    proposed is withdrawn (accepted transfers stand). A resolution read before its alert
    opened (another partition) leaves a closed alert, so the late opening plans nothing."""
    current = state or new_alert(resolved.alert_id, resolved.enterprise_id, resolved.cas)
    if state is not None and state.status == "resolved":
        return None
    transfers = {
        tid: t.model_copy(update={"status": "withdrawn"}) if t.status == "proposed" else t
        for tid, t in current.transfers.items()
    }
    return Change(current.model_copy(update={"status": "resolved", "transfers": transfers}))
