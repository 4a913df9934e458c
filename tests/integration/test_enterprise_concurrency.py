"""Two alerts planned at the same moment never promise the same room (real FerretDB).

The handlers run in-process, concurrently, against the MongoDB-compatible server: the
reservation is a compare-and-set on the recipient's document, whatever the interleaving.
"""

import asyncio
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


def _registration(eid: str, km: float, capacity_kg: float) -> RegisterEnterprise:
    return RegisterEnterprise.model_validate(
        {
            "enterprise_id": eid,
            "name": eid,
            "address": "Lishui",
            "location": {"lat": 28.45, "lon": 119.92 + km / 97.83},
            "licences": ["drug_precursor_3", "hazardous"],
            "liaison_officer": {"officer_id": "o1", "name": "Lü", "phone": "13800000001"},
            "contact": {"name": "c", "phone": "13900000002"},
            "storage": [{"cas": BUTANONE, "capacity_kg": capacity_kg}],
        }
    )


@pytest.mark.parametrize("trial", range(10))
async def test_two_simultaneous_alerts_competing_for_one_recipients_room(
    mongo_db: AsyncDatabase[dict[str, Any]], trial: int
) -> None:
    clock = ManualClock(datetime(2026, 6, 3, 9, 30, tzinfo=UTC))
    store = EnterpriseStore.of(
        AggregateStore(mongo_db["enterprises"], EnterpriseState, clock=clock),
        AggregateStore(mongo_db["alerts"], AlertState, clock=clock),
        AggregateStore(mongo_db["transfers"], TransferState, clock=clock),
        now=clock.now,
    )
    timers = Timers(mongo_db["timers"], service="enterprise", clock=clock, owner="test")

    def ctx(event: Any) -> Context:
        return Context.of(event, source="/services/enterprise", clock=clock, timers=timers)

    commands, flow = EnterpriseHandlers(store), Redistribution(store, 50.0, timedelta(hours=24))
    for eid, km, capacity in (
        ("source-1", 0, 20_000),
        ("source-2", 1, 20_000),
        ("recipient", 5, 5_000),
    ):
        registration = _registration(eid, km, capacity)
        await commands.register_enterprise(registration, ctx(command("r", eid, {})))
    await commands.declare_demand(
        DeclareDemand(enterprise_id="recipient", cas=BUTANONE, quantity_kg=5_000),
        ctx(command("d", "recipient", {})),
    )

    def alert(n: int) -> tuple[OverCapacityDetected, Context]:
        data = {
            "alert_id": f"alert-{n}",
            "enterprise_id": f"source-{n}",
            "enterprise_name": f"source-{n}",
            "cas": BUTANONE,
            "chemical_name": "丁酮",
            "chemical_name_en": "butanone",
            "control_categories": ["drug_precursor_3", "hazardous"],
            "stock_kg": 24_000.0,
            "capacity_kg": 20_000.0,
            "surplus_kg": 4_000.0,
            "liaison_officer": {"officer_id": "o1", "name": "Lü", "phone": "13800000001"},
            "address": "Lishui",
            "contact": {"name": "c", "phone": "13900000002"},
        }
        event = command("enterprise.over_capacity_detected", f"source-{n}", data)
        return OverCapacityDetected.model_validate(data), ctx(event)

    contexts = [alert(n) for n in (1, 2)]
    await asyncio.gather(*(flow.alert_raised(fact, c) for fact, c in contexts))

    recipient = await store.enterprises.load("recipient")
    assert recipient is not None
    promised = recipient.promised_kg(BUTANONE)
    emitted = [e for _, c in contexts for applied in c.applied for e in applied.events]
    placed = sum(
        t["quantity_kg"]
        for e in emitted
        if e.type.endswith("redistribution_proposed")
        for t in (e.data or {})["transfers"]
    )
    escalated = sum(
        (e.data or {})["unallocated_kg"]
        for e in emitted
        if e.type.endswith("redistribution_escalated")
    )
    assert promised == 5_000, "the room is used, never over-promised"
    assert placed == promised
    assert placed + escalated == 8_000  # both surpluses accounted for
