"""Enterprise handlers for the commands on enterprise.intake (and the transfer deadline).

Each changes one aggregate (enterprise or transfer) atomically with its inbox and outbox;
what follows over several aggregates is the redistribution flow (redistribution.py).
"""

from services.enterprise.domain import RuleError, kg, stock_after
from services.enterprise.messages import (
    ConfirmDelivery,
    DeclareDemand,
    DeclareInventory,
    RegisterEnterprise,
    RespondToTransfer,
    TransferResponseDue,
)
from services.enterprise.steps import Document, EnterpriseSteps, chemical_or_reject, existing
from shared.aggregates import Applied, Change
from shared.consuming import Rejected
from shared.envelope import CloudEvent


class EnterpriseHandlers(EnterpriseSteps):
    """The commands on enterprise.intake."""

    async def register_enterprise(
        self, cmd: RegisterEnterprise, event: CloudEvent
    ) -> list[Applied]:
        """Register an enterprise, or update its registration (stock and promises stay)."""
        for storage in cmd.storage:
            chemical_or_reject(storage.cas)
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
        chemical_or_reject(cmd.cas)

        def decide(state: Document | None) -> Change:
            current = existing(state, cmd.enterprise_id)
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
        chemical_or_reject(cmd.cas)
        if cmd.quantity_kg < 0:
            raise Rejected("negative_quantity", [f"quantity_kg must be ≥ 0, got {cmd.quantity_kg}"])

        def decide(state: Document | None) -> Change:
            current = existing(state, cmd.enterprise_id)
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
