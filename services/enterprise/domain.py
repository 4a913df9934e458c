"""Rules of the enterprise service: registrations, stock movements, alerts, transfers.

Pure decisions from a typed state to a `Change` (the new state and the facts it states);
a broken rule raises `Rejected`. No Kafka, MongoDB, clock or logging. Ids the service
mints (alerts) come in through `alert_id_for`, derived from the cause by the caller.
"""

from collections.abc import Callable
from typing import Literal

from services.enterprise import messages as m
from services.enterprise.catalogue import Chemical, chemical
from services.enterprise.matcher import kg
from services.enterprise.state import EnterpriseState, OpenAlert, TransferState
from shared import Change, Fact, Rejected

AlertIdFor = Callable[[str], str]


def chemical_or_reject(cas: str) -> Chemical:
    found = chemical(cas)
    if found is None:
        raise Rejected(m.UNKNOWN_CAS, f"{cas} is not in the chemical catalogue")
    return found


def registered(state: EnterpriseState | None, enterprise_id: str) -> EnterpriseState:
    if state is None:
        raise Rejected(m.UNKNOWN_ENTERPRISE, f"{enterprise_id} is not registered")
    return state


def stock_after(stock_kg: float, movement: m.Movement, quantity_kg: float) -> float:
    """The stock after a declared movement; stock never goes below zero (refused, not clamped)."""
    if quantity_kg < 0:
        raise Rejected(m.NEGATIVE_QUANTITY, f"quantity_kg must be ≥ 0, got {quantity_kg}")
    if movement == "stocktake":
        return kg(quantity_kg)
    if movement == "purchase":
        return kg(stock_kg + quantity_kg)
    if quantity_kg > stock_kg:
        raise Rejected(
            m.INSUFFICIENT_STOCK,
            f"{movement} of {quantity_kg} kg exceeds the stock of {stock_kg} kg",
        )
    return kg(stock_kg - quantity_kg)


def surplus_kg(stock_kg: float, capacity_kg: float) -> float:
    """How much stock exceeds the permitted storage (0 when within it)."""
    return kg(max(0.0, stock_kg - capacity_kg))


AlertChange = Literal["none", "open", "grow", "resolve"]


def alert_change(
    *, stock_kg: float, capacity_kg: float, open_surplus_kg: float | None
) -> AlertChange:
    """What a stock change does to the over-capacity alert of one enterprise and chemical.

    One alert per excursion: it opens when stock first exceeds capacity, grows (and the
    extra is planned) when the surplus rises above what it covers, and resolves when the
    stock is back within capacity, however it got there.
    """
    surplus = surplus_kg(stock_kg, capacity_kg)
    if open_surplus_kg is None:
        return "open" if surplus > 0 else "none"
    if surplus == 0:
        return "resolve"
    return "grow" if surplus > open_surplus_kg else "none"


def stock_changed(
    state: EnterpriseState,
    cas: str,
    stock: float,
    *,
    movement: m.StockChange,
    quantity: float,
    alert_id_for: AlertIdFor,
) -> Change[EnterpriseState]:
    """New stock for one chemical: its inventory_changed and what it does to the alert."""
    eid = state.enterprise_id
    capacity = state.storage.get(cas, 0.0)
    alerts = dict(state.open_alerts)
    facts: list[Fact] = [
        m.InventoryChanged(
            enterprise_id=eid,
            cas=cas,
            stock_kg=stock,
            capacity_kg=capacity,
            movement=movement,
            quantity_kg=quantity,
        )
    ]
    open_alert = alerts.get(cas)
    change = alert_change(
        stock_kg=stock,
        capacity_kg=capacity,
        open_surplus_kg=open_alert.surplus_kg if open_alert else None,
    )
    surplus = surplus_kg(stock, capacity)
    if change == "open":
        alert_id = alert_id_for(cas)
        alerts[cas] = OpenAlert(alert_id=alert_id, surplus_kg=surplus)
        chem = chemical_or_reject(cas)
        facts.append(
            m.OverCapacityDetected(
                alert_id=alert_id,
                enterprise_id=eid,
                enterprise_name=state.name,
                cas=cas,
                chemical_name=chem.name_zh,
                chemical_name_en=chem.name_en,
                control_categories=sorted(chem.categories),
                stock_kg=stock,
                capacity_kg=capacity,
                surplus_kg=surplus,
                liaison_officer=state.liaison_officer,
                address=state.address,
                contact=state.contact,
            )
        )
    elif change == "grow" and open_alert is not None:
        alerts[cas] = open_alert.model_copy(update={"surplus_kg": surplus})
        facts.append(
            m.AlertGrown(
                alert_id=open_alert.alert_id,
                enterprise_id=eid,
                cas=cas,
                surplus_kg=surplus,
                previous_surplus_kg=open_alert.surplus_kg,
                stock_kg=stock,
                capacity_kg=capacity,
            )
        )
    elif change == "resolve" and open_alert is not None:
        del alerts[cas]
        facts.append(
            m.AlertResolved(
                alert_id=open_alert.alert_id,
                enterprise_id=eid,
                cas=cas,
                stock_kg=stock,
                capacity_kg=capacity,
            )
        )
    new_state = state.model_copy(
        update={"stock": {**state.stock, cas: stock}, "open_alerts": alerts}
    )
    return Change(new_state, facts)


def register(
    state: EnterpriseState | None, cmd: m.RegisterEnterprise, alert_id_for: AlertIdFor
) -> Change[EnterpriseState]:
    """A registration, or an update of one: stock, demand and promises stay; a new permit
    can put stock over capacity or back within it."""
    for permit in cmd.storage:
        chemical_or_reject(permit.cas)
    profile = cmd.model_dump(exclude={"storage"})
    storage = {s.cas: s.capacity_kg for s in cmd.storage}
    current = (
        state.model_copy(update={**dict(cmd), "storage": storage})
        if state is not None
        else EnterpriseState.model_validate({**profile, "storage": storage})
    )
    facts: list[Fact] = [m.EnterpriseRegistered.model_validate(cmd.model_dump())]
    for cas, stock in current.stock.items():
        change = stock_changed(
            current, cas, stock, movement="registration", quantity=0.0, alert_id_for=alert_id_for
        )
        current = change.state
        facts += change.facts[1:]  # only what the permit does to alerts, not a stock change
    return Change(current, facts)


def declare_inventory(
    state: EnterpriseState | None, cmd: m.DeclareInventory, alert_id_for: AlertIdFor
) -> Change[EnterpriseState]:
    """A purchase, consumption, sale or stocktake: stock moves, alerts follow."""
    chemical_or_reject(cmd.cas)
    current = registered(state, cmd.enterprise_id)
    stock = stock_after(current.stock.get(cmd.cas, 0.0), cmd.movement, cmd.quantity_kg)
    return stock_changed(
        current,
        cmd.cas,
        stock,
        movement=cmd.movement,
        quantity=cmd.quantity_kg,
        alert_id_for=alert_id_for,
    )


def declare_demand(state: EnterpriseState | None, cmd: m.DeclareDemand) -> Change[EnterpriseState]:
    """An open demand for a chemical, replacing the previous one."""
    chemical_or_reject(cmd.cas)
    if cmd.quantity_kg < 0:
        raise Rejected(m.NEGATIVE_QUANTITY, f"quantity_kg must be ≥ 0, got {cmd.quantity_kg}")
    current = registered(state, cmd.enterprise_id)
    demand = {**current.demand, cmd.cas: kg(cmd.quantity_kg)}
    return Change(
        current.model_copy(update={"demand": demand}),
        [m.DemandDeclared.model_validate(cmd.model_dump())],
    )


def _proposed(state: TransferState | None, transfer_id: str) -> TransferState:
    if state is None:
        raise Rejected(m.UNKNOWN_TRANSFER, f"{transfer_id} was never proposed")
    return state


def declined(state: TransferState, reason: str) -> Change[TransferState]:
    """A transfer declined by its recipient, or expired (reason `expired`)."""
    return Change(
        state.model_copy(update={"status": "expired" if reason == "expired" else "declined"}),
        [
            m.TransferDeclined(
                transfer_id=state.transfer_id,
                alert_id=state.alert_id,
                to_enterprise_id=state.to_enterprise_id,
                reason=reason,
                quantity_kg=state.quantity_kg,
            )
        ],
    )


def respond(state: TransferState | None, cmd: m.RespondToTransfer) -> Change[TransferState]:
    """The recipient accepts or declines a proposed transfer."""
    current = _proposed(state, cmd.transfer_id)
    if cmd.enterprise_id != current.to_enterprise_id:
        raise Rejected(
            m.NOT_THE_RECIPIENT,
            f"{cmd.transfer_id} goes to {current.to_enterprise_id}, not {cmd.enterprise_id}",
        )
    if current.status != "proposed":
        raise Rejected(m.TRANSFER_NOT_OPEN, f"{cmd.transfer_id} is {current.status}")
    if not cmd.accepted:
        return declined(current, cmd.reason or "declined")
    return Change(
        current.model_copy(update={"status": "accepted"}),
        [
            m.TransferAccepted(
                transfer_id=cmd.transfer_id,
                alert_id=current.alert_id,
                to_enterprise_id=cmd.enterprise_id,
            )
        ],
    )


def expire(state: TransferState | None) -> Change[TransferState] | None:
    """No answer within the deadline: a transfer still proposed is declined as expired."""
    if state is None or state.status != "proposed":
        return None
    return declined(state, "expired")


def confirm_delivery(state: TransferState | None, cmd: m.ConfirmDelivery) -> Change[TransferState]:
    """The delivery of an accepted transfer, at most what was promised."""
    current = _proposed(state, cmd.transfer_id)
    if current.status != "accepted":
        raise Rejected(m.TRANSFER_NOT_ACCEPTED, f"{cmd.transfer_id} is {current.status}")
    if cmd.delivered_kg < 0:
        raise Rejected(m.NEGATIVE_QUANTITY, f"delivered_kg {cmd.delivered_kg} < 0")
    if cmd.delivered_kg > current.quantity_kg:
        raise Rejected(
            m.MORE_THAN_PROMISED,
            f"delivered {cmd.delivered_kg} kg > {current.quantity_kg} kg promised",
        )
    delivered = kg(cmd.delivered_kg)
    return Change(
        current.model_copy(update={"status": "completed", "delivered_kg": delivered}),
        [
            m.TransferCompleted(
                transfer_id=cmd.transfer_id,
                alert_id=current.alert_id,
                from_enterprise_id=current.from_enterprise_id,
                to_enterprise_id=current.to_enterprise_id,
                cas=current.cas,
                quantity_kg=delivered,
            )
        ],
    )
