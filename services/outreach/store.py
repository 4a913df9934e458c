"""The outreach collections, each an aggregate store, and the figures `/stats` reports.

A campaign reads the registry's block documents in one query and each block's visits in
one read. The figures `/stats` serves (computed in the background, shared/_kit/health.py)
read only the small summary fields of the large documents (a projection), not their lists.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.outreach.state import (
    ROSTER_ID,
    AgendaState,
    AttemptReportState,
    BlockVisitsState,
    CampaignState,
    ClusterWindowState,
    HomeServiceState,
    HouseholdState,
    RegistryState,
    RosterState,
    Tally,
)
from shared import AggregateStore, Runtime

OPEN_STATES = ("waiting", "assigned", "retry")
CLOSED_STATES = ("completed", "not_home", "refused", "overdue")


def visits_collection(block: str) -> str:
    return f"visits_{block}"


@dataclass(frozen=True)
class OutreachStore:
    households: AggregateStore[HouseholdState]
    registry: AggregateStore[RegistryState]
    roster: AggregateStore[RosterState]
    campaigns: AggregateStore[CampaignState]
    # One store (collection) per block, each holding that block's one document: the kit
    # marks a message's published facts in one `update_many` per store, and over 18 block
    # documents of megabytes FerretDB took 15-20 s for it under load (measured), past the
    # 15 s deadline of a MongoDB call, so the campaign was retried. Per block, every write
    # (marking included) concerns one document.
    block_visits: Mapping[str, AggregateStore[BlockVisitsState]]
    attempts: AggregateStore[AttemptReportState]
    clusters: AggregateStore[ClusterWindowState]
    home_services: AggregateStore[HomeServiceState]
    agenda: AggregateStore[AgendaState]

    @classmethod
    def on(cls, runtime: Runtime[Any], blocks: list[str]) -> "OutreachStore":
        return cls(
            runtime.store("households", HouseholdState),
            runtime.store("registry", RegistryState),
            runtime.store("roster", RosterState),
            runtime.store("campaigns", CampaignState),
            {b: runtime.store(visits_collection(b), BlockVisitsState) for b in blocks},
            runtime.store("fraud_attempts", AttemptReportState),
            runtime.store("fraud_clusters", ClusterWindowState),
            runtime.store("home_services", HomeServiceState),
            runtime.store("agenda", AgendaState),
        )

    def visits(self, block: str) -> AggregateStore[BlockVisitsState]:
        """The store of one block's visits (the block is checked before)."""
        return self.block_visits[block]

    async def registry_of(self, blocks: list[str]) -> dict[str, RegistryState]:
        """The registry of each block (one query)."""
        found = await self.registry.find({"_id": {"$in": blocks}})
        return {r.block: r for r in found}

    async def visits_of(self, blocks: list[str]) -> dict[str, BlockVisitsState]:
        """The visits of each block (one read each)."""
        found = {block: await self.visits(block).load(block) for block in blocks}
        return {block: state for block, state in found.items() if state is not None}

    async def load_roster(self) -> RosterState | None:
        return await self.roster.load(ROSTER_ID)

    async def _fields(self, store: AggregateStore[Any], *paths: str) -> list[dict[str, Any]]:
        projection = {f"state.{p}": 1 for p in paths}
        cursor = store.collection.find({}, projection)
        return [doc.get("state", {}) async for doc in cursor]

    async def stats(self) -> dict[str, Any]:
        """The figures the station reports for door-knocking and home services."""
        visits: Counter[str] = Counter()
        tally: Counter[str] = Counter()
        coverage: dict[str, dict[str, int]] = {}
        for store in self.block_visits.values():
            for doc in await self._fields(store, "block", "summary", "tally"):
                summary, found = doc.get("summary", {}), Tally.model_validate(doc.get("tally", {}))
                visits.update({s: summary.get(s, 0) for s in OPEN_STATES})
                tally.update(found.model_dump())
                coverage[doc["block"]] = {
                    "visits_waiting": summary.get("waiting", 0),
                    "visits_open": summary.get("assigned", 0) + summary.get("retry", 0),
                    "visits_completed": found.completed,
                }
        for doc in await self._fields(self.registry, "block", "size"):
            coverage.setdefault(doc["block"], {})["households"] = doc.get("size", 0)
        windows = await self.clusters.find({})
        roster = await self.load_roster()
        homes = Counter(h.status for h in await self.home_services.find({}))
        campaigns = Counter(c.trigger for c in await self.campaigns.find({}))
        return {
            "households": await self.households.count(),
            "volunteers": len(roster.volunteers) if roster else 0,
            "campaigns": sum(campaigns.values()),
            "campaigns_by_trigger": dict(campaigns),
            "visits_by_state": {
                **{s: visits[s] for s in OPEN_STATES},
                **{s: tally[s] for s in CLOSED_STATES},
            },
            "coverage_by_block": dict(sorted(coverage.items())),
            "fraud_dissuaded": tally["fraud_dissuaded"] + sum(w.dissuaded for w in windows),
            "fraud_dissuaded_yuan": tally["fraud_dissuaded_yuan"]
            + sum(w.dissuaded_yuan for w in windows),
            "fraud_attempts_reported": sum(w.reports for w in windows),
            "fraud_clusters": sum(w.clusters_launched for w in windows),
            "disputes_found": tally["disputes"],
            "home_services_by_state": dict(homes),
        }
