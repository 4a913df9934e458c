"""The redistribution flow: the service's reactions to its own facts on enterprise.events.

Planning one cause (an alert raised or grown, a transfer declined or expired) is four
idempotent steps under that cause, so a redelivery finishes what a crash left:
1. the alert records the intended transfers (the matcher's plan on a fresh snapshot),
   in the same write that decides how much is left to plan;
2. each recipient reserves what it can, with a compare-and-set on its own document, so
   two alerts never promise the same room or need;
3. the transfers that got something are created, with their response deadline;
4. the alert records what was reserved and emits the proposal and any escalation.
"""

from typing import Any

from services.enterprise.catalogue import chemical
from services.enterprise.domain import Location, kg, plan_redistribution, reservable_kg
from services.enterprise.messages import (
    AlertRaised,
    AlertResolved,
    EscalationReason,
    TransferCompleted,
    TransferDeclined,
)
from services.enterprise.steps import Document, EnterpriseSteps
from services.enterprise.store import promised_kg
from shared.aggregates import Applied, Change
from shared.envelope import CloudEvent, derive_id


def _new_alert(alert: AlertRaised) -> Document:
    return {
        "alert_id": alert.alert_id,
        "enterprise_id": alert.enterprise_id,
        "cas": alert.cas,
        "status": "open",
        "surplus_kg": 0.0,
        "committed_kg": 0.0,
        "excluded": [],
        "pending": {},
        "transfers": {},
        "redistributed_kg": 0.0,
        "escalated_kg": 0.0,
        "escalations": 0,
    }


class Redistribution(EnterpriseSteps):
    """Plans, re-plans and settles transfers of a surplus."""

    def _step(self, cause: CloudEvent, role: str) -> CloudEvent:
        """The identity of one step of a flow: its own inbox id, the cause's correlation."""
        return self.fact(cause, role, "flow_step", cause.subject or "", {})

    async def alert_raised(self, alert: AlertRaised, event: CloudEvent) -> list[Applied]:
        """An alert opened or grew: plan what its surplus does not cover yet."""

        def to_plan(state: Document | None) -> tuple[Document, float, EscalationReason]:
            current = state or _new_alert(alert)
            current = {**current, "surplus_kg": max(current["surplus_kg"], alert.surplus_kg)}
            return (
                current,
                kg(current["surplus_kg"] - current["committed_kg"]),
                "no_eligible_recipient",
            )

        return await self._plan(event, alert.alert_id, alert.enterprise_id, alert.cas, to_plan)

    async def transfer_declined(
        self, declined: TransferDeclined, event: CloudEvent
    ) -> list[Applied]:
        """A recipient declined (or let the deadline pass): free its room, re-plan without it."""
        transfer = await self.store.transfers.load(declined.transfer_id)
        if transfer is None:
            return []
        release = await self.store.enterprises.apply(
            declined.to_enterprise_id,
            self._step(event, "release"),
            lambda state: self._without_promise(state, declined.transfer_id),
        )
        reason: EscalationReason = "expired" if declined.reason == "expired" else "declined"

        def to_plan(state: Document | None) -> tuple[Document, float, EscalationReason]:
            if state is None:  # the alert always exists before its transfers
                raise LookupError(f"alert {declined.alert_id} of {declined.transfer_id} is missing")
            excluded = sorted({*state["excluded"], declined.to_enterprise_id})
            return {**state, "excluded": excluded}, transfer["quantity_kg"], reason

        return [
            release,
            *await self._plan(
                event, declined.alert_id, transfer["from_enterprise_id"], transfer["cas"], to_plan
            ),
        ]

    @staticmethod
    def _without_promise(state: Document | None, transfer_id: str) -> Change | None:
        if state is None or transfer_id not in state["promises"]:
            return None
        promises = {k: v for k, v in state["promises"].items() if k != transfer_id}
        return Change({**state, "promises": promises})

    async def _plan(
        self, cause: CloudEvent, alert_id: str, source_id: str, cas: str, to_plan: Any
    ) -> list[Applied]:
        chem = chemical(cas)
        source = await self.store.enterprises.load(source_id)
        if chem is None or source is None:
            raise LookupError(f"alert {alert_id}: {source_id} or {cas} is unknown")
        candidates = await self.store.candidates(cas)

        def intend(state: Document | None) -> Change | None:
            current, quantity, reason = to_plan(state)
            if quantity <= 0:
                return Change(current) if state is None or current != state else None
            plan = plan_redistribution(
                source_enterprise_id=source_id,
                origin=Location(**source["location"]),
                categories=chem.categories,
                surplus_kg=quantity,
                candidates=candidates,
                max_distance_km=self.max_distance_km,
                excluded=frozenset(current["excluded"]),
            )
            intents = [
                {
                    "transfer_id": derive_id(cause.id, f"transfer:{t.to_enterprise_id}"),
                    "to_enterprise_id": t.to_enterprise_id,
                    "to_name": t.to_name,
                    "quantity_kg": t.quantity_kg,
                    "distance_km": t.distance_km,
                }
                for t in plan.transfers
            ]
            pending = {
                **current["pending"],
                cause.id: {"quantity_kg": quantity, "reason": reason, "intents": intents},
            }
            return Change(
                {
                    **current,
                    "pending": pending,
                    "committed_kg": kg(current["committed_kg"] + quantity),
                }
            )

        intended = await self.store.alerts.apply(alert_id, cause, intend)
        pending = (intended.state or {}).get("pending", {}).get(cause.id)
        if pending is None:
            return [intended]
        placed = []
        for intent in pending["intents"]:
            granted = await self._reserve(cause, intent, cas, alert_id, source_id)
            if granted > 0:
                placed.append({**intent, "quantity_kg": granted})
                await self._create_transfer(
                    cause, {**intent, "quantity_kg": granted}, cas, alert_id, source_id
                )
        final = await self.store.alerts.apply(
            alert_id,
            self._step(cause, "plan-final"),
            lambda state: self._settle_plan(state, cause, pending, placed),
        )
        return [intended, final]

    async def _reserve(
        self, cause: CloudEvent, intent: Document, cas: str, alert_id: str, source_id: str
    ) -> float:
        transfer_id = intent["transfer_id"]

        def reserve(state: Document | None) -> Change | None:
            if state is None:
                return None
            granted = reservable_kg(
                wanted_kg=intent["quantity_kg"],
                capacity_kg=state["storage"].get(cas, 0.0),
                stock_kg=state["stock"].get(cas, 0.0),
                demand_kg=state["demand"].get(cas, 0.0),
                promised_kg=promised_kg(state, cas),
            )
            promises = dict(state["promises"])
            if granted > 0:
                promises[transfer_id] = {
                    "cas": cas,
                    "quantity_kg": granted,
                    "alert_id": alert_id,
                    "from_enterprise_id": source_id,
                }
            # written even when nothing is granted, so a replay cannot grant later
            return Change({**state, "promises": promises})

        applied = await self.store.enterprises.apply(
            intent["to_enterprise_id"], self._step(cause, f"reserve:{transfer_id}"), reserve
        )
        promise = (applied.state or {}).get("promises", {}).get(transfer_id)
        return float(promise["quantity_kg"]) if promise else 0.0

    async def _create_transfer(
        self, cause: CloudEvent, transfer: Document, cas: str, alert_id: str, source_id: str
    ) -> None:
        transfer_id = transfer["transfer_id"]
        await self.timers.schedule(
            f"deadline:{transfer_id}",
            event_type="enterprise.transfer_response_due",
            subject=transfer_id,
            due_at=self.clock.now() + self.response_deadline,
            data={"transfer_id": transfer_id},
            correlation_id=cause.correlation,
        )
        state = {
            **transfer,
            "alert_id": alert_id,
            "from_enterprise_id": source_id,
            "cas": cas,
            "status": "proposed",
        }
        await self.store.transfers.apply(
            transfer_id,
            self._step(cause, f"create:{transfer_id}"),
            lambda current: None if current is not None else Change(state),
        )

    def _settle_plan(
        self, state: Document | None, cause: CloudEvent, pending: Document, placed: list[Document]
    ) -> Change | None:
        if state is None or cause.id not in state["pending"]:
            return None
        unallocated = kg(pending["quantity_kg"] - sum(t["quantity_kg"] for t in placed))
        transfers = {
            **state["transfers"],
            **{t["transfer_id"]: {**t, "status": "proposed"} for t in placed},
        }
        new_state = {
            **state,
            "transfers": transfers,
            "pending": {k: v for k, v in state["pending"].items() if k != cause.id},
        }
        events = []
        public = ["transfer_id", "to_enterprise_id", "to_name", "quantity_kg", "distance_km"]
        if placed:
            events.append(
                self.fact(
                    cause,
                    "proposed",
                    "redistribution_proposed",
                    state["alert_id"],
                    {
                        "alert_id": state["alert_id"],
                        "source_enterprise_id": state["enterprise_id"],
                        "cas": state["cas"],
                        "surplus_kg": state["surplus_kg"],
                        "transfers": [{k: t[k] for k in public} for t in placed],
                        "unallocated_kg": unallocated,
                    },
                )
            )
        if unallocated > 0:
            new_state["escalated_kg"] = kg(state["escalated_kg"] + unallocated)
            new_state["escalations"] = state["escalations"] + 1
            events.append(
                self.fact(
                    cause,
                    "escalated",
                    "redistribution_escalated",
                    state["alert_id"],
                    {
                        "alert_id": state["alert_id"],
                        "enterprise_id": state["enterprise_id"],
                        "cas": state["cas"],
                        "unallocated_kg": unallocated,
                        "reason": pending["reason"],
                    },
                )
            )
        return Change(new_state, events)

    async def transfer_completed(self, done: TransferCompleted, event: CloudEvent) -> list[Applied]:
        """A delivery moves stock at both ends, lowers the recipient's demand, ends the promise."""

        def ship(state: Document | None) -> Change | None:
            if state is None:
                return None
            stock = kg(max(0.0, state["stock"].get(done.cas, 0.0) - done.quantity_kg))
            new_state, events = self.stock_changed(
                state, done.cas, stock, event, movement="transfer_out", quantity=done.quantity_kg
            )
            return Change(new_state, events)

        def receive(state: Document | None) -> Change | None:
            if state is None:
                return None
            stock = kg(state["stock"].get(done.cas, 0.0) + done.quantity_kg)
            demand = kg(max(0.0, state["demand"].get(done.cas, 0.0) - done.quantity_kg))
            promises = {k: v for k, v in state["promises"].items() if k != done.transfer_id}
            base = {**state, "demand": {**state["demand"], done.cas: demand}, "promises": promises}
            new_state, events = self.stock_changed(
                base, done.cas, stock, event, movement="transfer_in", quantity=done.quantity_kg
            )
            return Change(new_state, events)

        def settle(state: Document | None) -> Change | None:
            if state is None or done.transfer_id not in state["transfers"]:
                return None
            transfer = {
                **state["transfers"][done.transfer_id],
                "status": "completed",
                "delivered_kg": done.quantity_kg,
            }
            return Change(
                {
                    **state,
                    "transfers": {**state["transfers"], done.transfer_id: transfer},
                    "redistributed_kg": kg(state["redistributed_kg"] + done.quantity_kg),
                }
            )

        return [
            await self.store.enterprises.apply(
                done.from_enterprise_id, self._step(event, "ship"), ship
            ),
            await self.store.enterprises.apply(
                done.to_enterprise_id, self._step(event, "receive"), receive
            ),
            await self.store.alerts.apply(done.alert_id, self._step(event, "settle"), settle),
        ]

    async def alert_resolved(self, resolved: AlertResolved, event: CloudEvent) -> list[Applied]:
        """Stock is back within the permit: the alert is closed."""

        def close(state: Document | None) -> Change | None:
            if state is None or state["status"] == "resolved":
                return None
            return Change({**state, "status": "resolved"})

        return [await self.store.alerts.apply(resolved.alert_id, event, close)]
