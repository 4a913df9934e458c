"""The enterprise collections: enterprises, alerts and transfers, each an aggregate store."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.enterprise.market import Market
from services.enterprise.matcher import Candidate
from services.enterprise.state import AlertState, EnterpriseState, TransferState
from shared import AggregateStore, Runtime


@dataclass(frozen=True)
class EnterpriseStore:
    enterprises: AggregateStore[EnterpriseState]
    alerts: AggregateStore[AlertState]
    transfers: AggregateStore[TransferState]
    market: Market

    @classmethod
    def on(cls, runtime: Runtime[Any], *, market_refresh_s: float) -> "EnterpriseStore":
        return cls.of(
            runtime.store("enterprises", EnterpriseState),
            runtime.store("alerts", AlertState),
            runtime.store("transfers", TransferState),
            now=runtime.clock.now,
            market_refresh_s=market_refresh_s,
        )

    @classmethod
    def of(
        cls,
        enterprises: AggregateStore[EnterpriseState],
        alerts: AggregateStore[AlertState],
        transfers: AggregateStore[TransferState],
        *,
        now: Callable[[], datetime],
        market_refresh_s: float = 60.0,
    ) -> "EnterpriseStore":
        market = Market(enterprises, now=now, refresh_s=market_refresh_s)
        return cls(enterprises, alerts, transfers, market)

    async def candidates(self, cas: str) -> list[Candidate]:
        """Every enterprise with a declared demand for `cas`, as the matcher sees it now."""
        return await self.market.candidates(cas)

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
