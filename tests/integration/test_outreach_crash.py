"""The outreach service killed (SIGKILL) in the middle of a county-wide campaign, then
started again: every visit is assigned once, and the roster counts exactly what each
volunteer holds (real Kafka and FerretDB, the service as a process)."""

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.outreach.state import ROSTER_ID, BlockVisitsState, RosterState
from services.outreach.store import visits_collection
from tests.integration.outreach_support import (
    as_event,
    delete_topics,
    household,
    private_topics,
    seed_registry,
    service_process,
    volunteer,
    warning,
)
from tests.processes import ServiceProcess
from tests.support import EventTail, Infra, eventually, produce

pytestmark = pytest.mark.integration

BLOCKS = [f"block-{n:02}" for n in range(1, 19)]
PER_BLOCK = 100


async def _state(
    client: AsyncMongoClient[dict[str, Any]], db: str
) -> tuple[RosterState, Counter[str]]:
    doc = await client[db]["roster"].find_one({"_id": ROSTER_ID})
    assert doc is not None
    held: Counter[str] = Counter()
    for block in BLOCKS:
        async for found in client[db][visits_collection(block)].find():
            visits = BlockVisitsState.model_validate(found["state"]).visits
            held.update(v.volunteer_id for v in visits if v.volunteer_id and v.status == "assigned")
    return RosterState.model_validate(doc["state"]), held


async def test_killed_half_way_through_a_campaign_it_finishes_it_once_after_a_restart(
    infra: Infra, unique_id: Callable[[str], str]
) -> None:
    suffix = unique_id("t")
    prefix, database = f"outreach-{suffix}", f"outreach_{suffix}".replace("-", "_")
    topics = await private_topics(infra, prefix)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    homes = [household(f"h-{b}-{n:03}", b, ages=(70,)) for b in BLOCKS for n in range(PER_BLOCK)]
    people = [
        volunteer(f"v-{b}-{n}", [b], org="community", max_open=30) for b in BLOCKS for n in range(4)
    ]
    await seed_registry(infra.mongodb_url, database, homes, people)
    first = service_process(infra, prefix, database)
    second = service_process(infra, prefix, database)
    try:
        async with EventTail(infra.kafka_bootstrap_servers, f"{prefix}.events") as tail:
            await first.start()
            await first.wait_ready()
            command = as_event(warning(f"w-{suffix}", "fake_refund", blocks=[], min_age=65))
            await produce(
                infra.kafka_bootstrap_servers,
                f"{prefix}.intake",
                [(command.key, command.to_bytes())],
            )

            async def half_way() -> bool:
                doc = await client[database]["roster"].find_one({"_id": ROSTER_ID})
                return doc is not None and bool(doc["state"]["pending"])

            # the reservation is stored first, the visits and the settlement after it: the
            # window between them is short on a fast machine, so it is watched without a
            # pause between looks (each look is one query), and the kill follows at once
            started = time.monotonic()
            while not await half_way():
                assert time.monotonic() - started < 120, "the campaign never got half-way"
            await first.kill()
            killed_after = time.monotonic() - started
            assert not any(e.get("event") == "campaign_planned" for e in first.events()), (
                "the campaign finished before the kill: nothing was tested"
            )

            await second.start()
            await second.wait_ready()

            def visits() -> set[str]:
                return {a["data"]["visit_id"] for a in tail.of_type("outreach.visit_assigned")}

            async def every_visit_out() -> bool:
                return len(visits()) >= len(homes)

            await eventually(every_visit_out, timeout_s=300, what="every visit assigned")
            await eventually(
                lambda: _handled(second, command.id), timeout_s=120, what="the warning handled"
            )
            assert len(visits()) == len(homes), "each visit once (its id is stable)"
            said: dict[str, set[tuple[str, str]]] = {}
            for event in tail.of_type("outreach.visit_assigned"):
                fact = (event["id"], event["data"]["volunteer_id"])
                said.setdefault(event["data"]["visit_id"], set()).add(fact)
            assert all(len(f) == 1 for f in said.values()), "sent again, but the same fact"
            roster, held = await _state(client, database)
            counted = Counter({v.volunteer_id: v.open_visits for v in roster.volunteers})
            assert counted - Counter() == held
            assert max(counted.values()) <= 30
            assert roster.pending == []
            assert len(tail.of_type("outreach.campaign_launched")) >= 1
            assert {e["id"] for e in tail.of_type("outreach.campaign_launched")} == {
                tail.of_type("outreach.campaign_launched")[0]["id"]
            }
            print(f"killed {killed_after:.1f} s after the warning was sent")
    finally:
        await first.kill()
        await second.kill()
        await client.drop_database(database)
        await client.close()
        await delete_topics(infra, topics)


async def _handled(service: ServiceProcess, event_id: str) -> bool:
    return any(
        e.get("event") == "event_received" and e.get("event_id") == event_id
        for e in service.events()
    )
