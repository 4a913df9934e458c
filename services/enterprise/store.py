"""The enterprise collections: enterprises, alerts and transfers, each an aggregate store."""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from services.enterprise.domain import Candidate, Location, room_kg, unmet_demand_kg
from shared.aggregates import AggregateStore

Document = dict[str, Any]


def promised_kg(state: Document, cas: str) -> float:
    """What is promised to this enterprise for `cas` and not yet delivered."""
    return float(sum(p["quantity_kg"] for p in state["promises"].values() if p["cas"] == cas))


def as_candidate(state: Document, cas: str) -> Candidate:
    promised = promised_kg(state, cas)
    return Candidate(
        enterprise_id=state["enterprise_id"],
        name=state["name"],
        location=Location(**state["location"]),
        licences=frozenset(state["licences"]),
        room_kg=room_kg(
            capacity_kg=state["storage"].get(cas, 0.0),
            stock_kg=state["stock"].get(cas, 0.0),
            promised_kg=promised,
        ),
        unmet_demand_kg=unmet_demand_kg(
            demand_kg=state["demand"].get(cas, 0.0), promised_kg=promised
        ),
    )


@dataclass
class EnterpriseStore:
    enterprises: AggregateStore
    alerts: AggregateStore
    transfers: AggregateStore

    async def candidates(self, cas: str) -> list[Candidate]:
        """Every enterprise with a declared demand for `cas`, as the matcher sees it now."""
        cursor = self.enterprises.collection.find({f"state.demand.{cas}": {"$gt": 0}})
        return [as_candidate(doc["state"], cas) async for doc in cursor]

    async def stats(self) -> dict[str, Any]:
        """The figures the station reports for hazardous chemicals."""
        alerts = Counter[str]()
        redistributed = escalated = 0.0
        escalations = 0
        async for doc in self.alerts.collection.find({}, {"state": 1}):
            state = doc["state"]
            alerts[state["status"]] += 1
            redistributed += state["redistributed_kg"]
            escalated += state["escalated_kg"]
            escalations += state["escalations"]
        transfers = Counter[str]()
        async for doc in self.transfers.collection.find({}, {"state.status": 1}):
            transfers[doc["state"]["status"]] += 1
        return {
            "enterprises": await self.enterprises.collection.count_documents({}),
            "alerts_open": alerts["open"],
            "alerts_resolved": alerts["resolved"],
            "kg_redistributed": round(redistributed, 3),
            "transfers_by_state": dict(transfers),
            "escalations": escalations,
            "kg_escalated": round(escalated, 3),
        }
