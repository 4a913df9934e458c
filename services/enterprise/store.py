"""The enterprise collections: enterprises, alerts and transfers, each an aggregate store."""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from services.enterprise.matcher import Candidate, Location, room_kg, unmet_demand_kg
from services.enterprise.state import AlertState, EnterpriseState, TransferState
from shared import AggregateStore, Runtime


def as_candidate(state: EnterpriseState, cas: str) -> Candidate:
    """An enterprise as the matcher sees it for one chemical."""
    promised = state.promised_kg(cas)
    return Candidate(
        enterprise_id=state.enterprise_id,
        name=state.name,
        location=Location(state.location.lat, state.location.lon),
        licences=frozenset(state.licences),
        room_kg=room_kg(
            capacity_kg=state.storage.get(cas, 0.0),
            stock_kg=state.stock.get(cas, 0.0),
            promised_kg=promised,
        ),
        unmet_demand_kg=unmet_demand_kg(demand_kg=state.demand.get(cas, 0.0), promised_kg=promised),
    )


@dataclass(frozen=True)
class EnterpriseStore:
    enterprises: AggregateStore[EnterpriseState]
    alerts: AggregateStore[AlertState]
    transfers: AggregateStore[TransferState]

    @classmethod
    def on(cls, runtime: Runtime[Any]) -> "EnterpriseStore":
        return cls(
            runtime.store("enterprises", EnterpriseState),
            runtime.store("alerts", AlertState),
            runtime.store("transfers", TransferState),
        )

    async def candidates(self, cas: str) -> list[Candidate]:
        """Every enterprise with a declared demand for `cas`, as the matcher sees it now."""
        found = await self.enterprises.find({f"state.demand.{cas}": {"$gt": 0}})
        return [as_candidate(state, cas) for state in found]

    async def stats(self) -> dict[str, Any]:
        """The figures the station reports for hazardous chemicals."""
        alerts = await self.alerts.find({})
        by_status = Counter(a.status for a in alerts)
        transfers = Counter(t.status for t in await self.transfers.find({}))
        return {
            "enterprises": await self.enterprises.count(),
            "alerts_open": by_status["open"],
            "alerts_resolved": by_status["resolved"],
            "kg_redistributed": round(sum(a.redistributed_kg for a in alerts), 3),
            "transfers_by_state": dict(transfers),
            "escalations": sum(a.escalations for a in alerts),
            "kg_escalated": round(sum(a.escalated_kg for a in alerts), 3),
        }
