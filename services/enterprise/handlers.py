"""Enterprise handlers: commands and the service's own facts in, state changes and facts out.

Each step changes one aggregate (enterprise, alert or transfer) atomically with its inbox
and outbox. A flow over several aggregates (plan: reserve room at each recipient, create
the transfers, then record the plan on the alert) is a sequence of such steps, each
idempotent under the same cause, so a redelivered cause finishes what a crash left.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.enterprise.catalogue import Chemical, chemical
from services.enterprise.domain import (
    RuleError,
    alert_change,
    kg,
    stock_after,
    surplus_kg,
)
from services.enterprise.messages import (
    ConfirmDelivery,
    DeclareDemand,
    DeclareInventory,
    RegisterEnterprise,
    RespondToTransfer,
    TransferResponseDue,
)
from services.enterprise.store import EnterpriseStore
from shared.aggregates import Applied, Change
from shared.clock import Clock
from shared.consuming import Rejected
from shared.envelope import CloudEvent, derive_id
from shared.timers import Timers

Document = dict[str, Any]
SOURCE = "/services/enterprise"
PLANNING_ROUNDS = 3


def _chemical_or_reject(cas: str) -> Chemical:
    found = chemical(cas)
    if found is None:
        raise Rejected("unknown_cas", [f"{cas} is not in the chemical catalogue"])
    return found


def _existing(state: Document | None, enterprise_id: str) -> Document:
    if state is None:
        raise Rejected("unknown_enterprise", [f"{enterprise_id} is not registered"])
    return state


@dataclass
class EnterpriseSteps:
    """What every enterprise step needs: its stores, timers, clock and how to state facts."""

    store: EnterpriseStore
    timers: Timers
    clock: Clock
    max_distance_km: float
    response_deadline: timedelta

    def fact(
        self, cause: CloudEvent, role: str, name: str, subject: str, data: dict[str, Any]
    ) -> CloudEvent:
        return cause.caused(
            role=role,
            type=f"enterprise.{name}",
            source=SOURCE,
            subject=subject,
            data=data,
            time=self.clock.now(),
        )

    def stock_changed(
        self,
        state: Document,
        cas: str,
        stock: float,
        cause: CloudEvent,
        *,
        movement: str,
        quantity: float,
    ) -> tuple[Document, list[CloudEvent]]:
        """New stock for one chemical, its inventory_changed and what it does to the alert."""
        eid = state["enterprise_id"]
        capacity = state["storage"].get(cas, 0.0)
        alerts = dict(state["open_alerts"])
        events = [
            self.fact(
                cause,
                f"inventory:{eid}:{cas}",
                "inventory_changed",
                eid,
                {
                    "enterprise_id": eid,
                    "cas": cas,
                    "stock_kg": stock,
                    "capacity_kg": capacity,
                    "movement": movement,
                    "quantity_kg": quantity,
                },
            )
        ]
        open_alert = alerts.get(cas)
        change = alert_change(
            stock_kg=stock,
            capacity_kg=capacity,
            open_surplus_kg=open_alert["surplus_kg"] if open_alert else None,
        )
        surplus = surplus_kg(stock, capacity)
        if change == "open":
            alert_id = derive_id(cause.id, f"alert:{eid}:{cas}")
            alerts[cas] = {"alert_id": alert_id, "surplus_kg": surplus}
            chem = _chemical_or_reject(cas)
            events.append(
                self.fact(
                    cause,
                    f"alert:{eid}:{cas}",
                    "over_capacity_detected",
                    eid,
                    {
                        "alert_id": alert_id,
                        "enterprise_id": eid,
                        "enterprise_name": state["name"],
                        "cas": cas,
                        "chemical_name": chem.name_zh,
                        "chemical_name_en": chem.name_en,
                        "control_categories": sorted(chem.categories),
                        "stock_kg": stock,
                        "capacity_kg": capacity,
                        "surplus_kg": surplus,
                        "liaison_officer": state["liaison_officer"],
                        "address": state["address"],
                        "contact": state["contact"],
                    },
                )
            )
        elif change == "grow" and open_alert is not None:
            alerts[cas] = {**open_alert, "surplus_kg": surplus}
            events.append(
                self.fact(
                    cause,
                    f"alert-grown:{eid}:{cas}",
                    "alert_grown",
                    open_alert["alert_id"],
                    {
                        "alert_id": open_alert["alert_id"],
                        "enterprise_id": eid,
                        "cas": cas,
                        "surplus_kg": surplus,
                        "previous_surplus_kg": open_alert["surplus_kg"],
                        "stock_kg": stock,
                        "capacity_kg": capacity,
                    },
                )
            )
        elif change == "resolve" and open_alert is not None:
            del alerts[cas]
            events.append(
                self.fact(
                    cause,
                    f"alert-resolved:{eid}:{cas}",
                    "alert_resolved",
                    open_alert["alert_id"],
                    {
                        "alert_id": open_alert["alert_id"],
                        "enterprise_id": eid,
                        "cas": cas,
                        "stock_kg": stock,
                        "capacity_kg": capacity,
                    },
                )
            )
        new_state = {**state, "stock": {**state["stock"], cas: stock}, "open_alerts": alerts}
        return new_state, events


class EnterpriseHandlers(EnterpriseSteps):
    """The commands on enterprise.intake."""

    async def register_enterprise(
        self, cmd: RegisterEnterprise, event: CloudEvent
    ) -> list[Applied]:
        """Register an enterprise, or update its registration (stock and promises stay)."""
        for storage in cmd.storage:
            _chemical_or_reject(storage.cas)
        profile = cmd.model_dump(mode="json")
        profile["storage"] = {s.cas: s.capacity_kg for s in cmd.storage}

        def decide(state: Document | None) -> Change:
            current = state or {"stock": {}, "demand": {}, "promises": {}, "open_alerts": {}}
            new_state = {**current, **profile}
            events = [
                self.fact(
                    event,
                    "registered",
                    "enterprise_registered",
                    cmd.enterprise_id,
                    {**cmd.model_dump(mode="json")},
                )
            ]
            # a smaller permit can put existing stock over capacity, a larger one back within
            for cas, stock in current["stock"].items():
                new_state, more = self.stock_changed(
                    new_state, cas, stock, event, movement="registration", quantity=0.0
                )
                events += more[1:]
            return Change(new_state, events)

        return [await self.store.enterprises.apply(cmd.enterprise_id, event, decide)]

    async def declare_inventory(self, cmd: DeclareInventory, event: CloudEvent) -> list[Applied]:
        """A purchase, consumption, sale or stocktake: stock moves, alerts follow."""
        _chemical_or_reject(cmd.cas)

        def decide(state: Document | None) -> Change:
            current = _existing(state, cmd.enterprise_id)
            try:
                stock = stock_after(
                    current["stock"].get(cmd.cas, 0.0), cmd.movement, cmd.quantity_kg
                )
            except RuleError as broken:
                raise Rejected(broken.reason, [str(broken)]) from None
            new_state, events = self.stock_changed(
                current, cmd.cas, stock, event, movement=cmd.movement, quantity=cmd.quantity_kg
            )
            return Change(new_state, events)

        return [await self.store.enterprises.apply(cmd.enterprise_id, event, decide)]

    async def declare_demand(self, cmd: DeclareDemand, event: CloudEvent) -> list[Applied]:
        """An open demand for a chemical, replacing the previous one."""
        _chemical_or_reject(cmd.cas)
        if cmd.quantity_kg < 0:
            raise Rejected("negative_quantity", [f"quantity_kg must be ≥ 0, got {cmd.quantity_kg}"])

        def decide(state: Document | None) -> Change:
            current = _existing(state, cmd.enterprise_id)
            demand = {**current["demand"], cmd.cas: kg(cmd.quantity_kg)}
            data = cmd.model_dump(mode="json")
            return Change(
                {**current, "demand": demand},
                [self.fact(event, "demand", "demand_declared", cmd.enterprise_id, data)],
            )

        return [await self.store.enterprises.apply(cmd.enterprise_id, event, decide)]

    async def respond_to_transfer(self, cmd: RespondToTransfer, event: CloudEvent) -> list[Applied]:
        """The recipient accepts or declines a proposed transfer."""

        def decide(state: Document | None) -> Change:
            if state is None:
                raise Rejected("unknown_transfer", [f"{cmd.transfer_id} was never proposed"])
            if cmd.enterprise_id != state["to_enterprise_id"]:
                raise Rejected(
                    "not_the_recipient",
                    [
                        f"{cmd.transfer_id} goes to {state['to_enterprise_id']}, "
                        f"not {cmd.enterprise_id}"
                    ],
                )
            if state["status"] != "proposed":
                raise Rejected("transfer_not_open", [f"{cmd.transfer_id} is {state['status']}"])
            if cmd.accepted:
                return Change(
                    {**state, "status": "accepted"},
                    [
                        self.fact(
                            event,
                            "accepted",
                            "transfer_accepted",
                            cmd.transfer_id,
                            {
                                "transfer_id": cmd.transfer_id,
                                "alert_id": state["alert_id"],
                                "to_enterprise_id": cmd.enterprise_id,
                            },
                        )
                    ],
                )
            return self._declined(state, event, cmd.reason or "declined")

        return [await self.store.transfers.apply(cmd.transfer_id, event, decide)]

    def _declined(self, state: Document, cause: CloudEvent, reason: str) -> Change:
        return Change(
            {**state, "status": "expired" if reason == "expired" else "declined"},
            [
                self.fact(
                    cause,
                    "declined",
                    "transfer_declined",
                    state["transfer_id"],
                    {
                        "transfer_id": state["transfer_id"],
                        "alert_id": state["alert_id"],
                        "to_enterprise_id": state["to_enterprise_id"],
                        "reason": reason,
                        "quantity_kg": state["quantity_kg"],
                    },
                )
            ],
        )

    async def transfer_response_due(
        self, due: TransferResponseDue, event: CloudEvent
    ) -> list[Applied]:
        """No answer within the deadline: the transfer is declined as expired."""

        def decide(state: Document | None) -> Change | None:
            if state is None or state["status"] != "proposed":
                return None
            return self._declined(state, event, "expired")

        return [await self.store.transfers.apply(due.transfer_id, event, decide)]

    async def confirm_delivery(self, cmd: ConfirmDelivery, event: CloudEvent) -> list[Applied]:
        """The delivery of an accepted transfer: completed, stocks move (see transfer_completed)."""

        def decide(state: Document | None) -> Change:
            if state is None:
                raise Rejected("unknown_transfer", [f"{cmd.transfer_id} was never proposed"])
            if state["status"] != "accepted":
                raise Rejected("transfer_not_accepted", [f"{cmd.transfer_id} is {state['status']}"])
            if cmd.delivered_kg < 0:
                raise Rejected("negative_quantity", [f"delivered_kg {cmd.delivered_kg} < 0"])
            if cmd.delivered_kg > state["quantity_kg"]:
                raise Rejected(
                    "more_than_promised",
                    [f"delivered {cmd.delivered_kg} kg > {state['quantity_kg']} kg promised"],
                )
            delivered = kg(cmd.delivered_kg)
            return Change(
                {**state, "status": "completed", "delivered_kg": delivered},
                [
                    self.fact(
                        event,
                        "completed",
                        "transfer_completed",
                        cmd.transfer_id,
                        {
                            "transfer_id": cmd.transfer_id,
                            "alert_id": state["alert_id"],
                            "from_enterprise_id": state["from_enterprise_id"],
                            "to_enterprise_id": state["to_enterprise_id"],
                            "cas": state["cas"],
                            "quantity_kg": delivered,
                        },
                    )
                ],
            )

        return [await self.store.transfers.apply(cmd.transfer_id, event, decide)]
