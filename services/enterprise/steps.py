"""What every enterprise step shares: its stores, how facts are stated, and the alert rule
applied after any stock change."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.enterprise.catalogue import Chemical, chemical
from services.enterprise.domain import alert_change, surplus_kg
from services.enterprise.store import EnterpriseStore
from shared.clock import Clock
from shared.consuming import Rejected
from shared.envelope import CloudEvent, derive_id
from shared.timers import Timers

Document = dict[str, Any]
SOURCE = "/services/enterprise"


def chemical_or_reject(cas: str) -> Chemical:
    found = chemical(cas)
    if found is None:
        raise Rejected("unknown_cas", [f"{cas} is not in the chemical catalogue"])
    return found


def existing(state: Document | None, enterprise_id: str) -> Document:
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
            chem = chemical_or_reject(cas)
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
