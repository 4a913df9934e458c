"""The redistribution flow killed between any two of its steps, then redelivered, ends
exactly as an uninterrupted run (real FerretDB, the handlers in-process)."""

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.enterprise.handlers import EnterpriseHandlers
from services.enterprise.messages import DeclareDemand, OverCapacityDetected, RegisterEnterprise
from services.enterprise.redistribution import Redistribution
from services.enterprise.state import AlertState, EnterpriseState, TransferState
from services.enterprise.store import EnterpriseStore
from shared import AggregateStore, Context
from shared._kit.clock import ManualClock
from shared._kit.timers import Timers
from tests.support import command

pytestmark = pytest.mark.integration

BUTANONE = "78-93-3"
WHEN = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)


class Killed(Exception):  # noqa: N818 - stands for the process dying
    pass


def _registration(eid: str, km: float) -> RegisterEnterprise:
    return RegisterEnterprise.model_validate(
        {
            "enterprise_id": eid,
            "name": eid,
            "address": "Lishui",
            "location": {"lat": 28.45, "lon": 119.92 + km / 97.83},
            "licences": ["drug_precursor_3", "hazardous"],
            "liaison_officer": {"officer_id": "o1", "name": "Lü", "phone": "13800000001"},
            "contact": {"name": "c", "phone": "13900000002"},
            "storage": [{"cas": BUTANONE, "capacity_kg": 20_000 if eid == "source" else 5_000}],
        }
    )


ALERT = OverCapacityDetected.model_validate(
    {
        "alert_id": "alert-1",
        "enterprise_id": "source",
        "enterprise_name": "source",
        "cas": BUTANONE,
        "chemical_name": "丁酮",
        "chemical_name_en": "butanone",
        "control_categories": ["drug_precursor_3", "hazardous"],
        "stock_kg": 26_000.0,
        "capacity_kg": 20_000.0,
        "surplus_kg": 6_000.0,
        "liaison_officer": {"officer_id": "o1", "name": "Lü", "phone": "13800000001"},
        "address": "Lishui",
        "contact": {"name": "c", "phone": "13900000002"},
    }
)


async def _run(db: AsyncDatabase[dict[str, Any]], kill_at: int | None) -> dict[str, Any]:
    """The flow for one alert; with `kill_at`, the kill_at-th write dies, then the same
    fact is delivered again. Returns what the run left: states and published event ids."""
    clock = ManualClock(WHEN)
    store = EnterpriseStore.of(
        AggregateStore(db["enterprises"], EnterpriseState, clock=clock),
        AggregateStore(db["alerts"], AlertState, clock=clock),
        AggregateStore(db["transfers"], TransferState, clock=clock),
        now=clock.now,
    )
    timers = Timers(db["timers"], service="enterprise", clock=clock, owner="test")

    def ctx(event: Any) -> Context:
        return Context.of(event, source="/services/enterprise", clock=clock, timers=timers)

    commands = EnterpriseHandlers(store)
    for eid, km in (("source", 0), ("r1", 3), ("r2", 6)):
        await commands.register_enterprise(_registration(eid, km), ctx(command("r", eid, {})))
        if eid != "source":
            await commands.declare_demand(
                DeclareDemand(enterprise_id=eid, cas=BUTANONE, quantity_kg=4_000),
                ctx(command("d", eid, {})),
            )
    flow = Redistribution(store, 50.0, timedelta(hours=24))
    fact = command("enterprise.over_capacity_detected", "source", ALERT.model_dump(mode="json"))
    fact = fact.model_copy(update={"id": "fact-1", "source": "/services/enterprise"})
    writes = 0
    real_apply = AggregateStore.apply

    async def dying_apply(self: AggregateStore[Any], *args: Any) -> Any:
        nonlocal writes
        writes += 1
        if writes == kill_at:
            raise Killed
        return await real_apply(self, *args)

    AggregateStore.apply = dying_apply  # type: ignore[method-assign,assignment]
    try:
        first = ctx(fact)
        # a kill: nothing the process had stored was published or committed
        with contextlib.suppress(Killed):
            await flow.alert_raised(ALERT, first)
        first_writes = writes
        if kill_at is not None:
            # the redelivery: what is left unsent in outboxes comes back with it
            first = ctx(fact)
            await flow.alert_raised(ALERT, first)
    finally:
        AggregateStore.apply = real_apply  # type: ignore[method-assign]
    published = {e.id for a in first.applied for e in a.events}
    states = {
        name: sorted((doc["_id"], doc["state"]) for doc in await db[name].find({}).to_list())
        for name in ("enterprises", "alerts", "transfers")
    }
    return {"states": states, "published": published, "writes": first_writes}


async def test_the_flow_killed_between_any_two_steps_finishes_as_if_it_never_died(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    clean = await _run(mongo_db.client[f"{mongo_db.name}_clean"], kill_at=None)
    steps = clean["writes"]
    try:
        for kill_at in range(1, steps + 1):
            db = mongo_db.client[f"{mongo_db.name}_k{kill_at}"]
            try:
                crashed = await _run(db, kill_at=kill_at)
            finally:
                await mongo_db.client.drop_database(db.name)
            assert crashed["states"] == clean["states"], f"killed at write {kill_at}"
            assert crashed["published"] == clean["published"], f"killed at write {kill_at}"
    finally:
        await mongo_db.client.drop_database(f"{mongo_db.name}_clean")
    transfers = clean["states"]["transfers"]
    assert sorted((t["to_enterprise_id"], t["quantity_kg"]) for _, t in transfers) == [
        ("r1", 4_000),
        ("r2", 2_000),
    ]
    # intend (first decided without the market, then with it), two reservations, two
    # transfers, settle
    assert steps == 7
    print(f"flow steps killed: {steps}")
