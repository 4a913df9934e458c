"""Many aggregates created under one key, in bulk, on the real MongoDB-compatible server:
a replay (a redelivery after a crash half-way) creates nothing twice."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared import AggregateStore, Context
from shared._kit.clock import ManualClock
from shared._kit.envelope import CloudEvent
from shared._kit.marking import mark_all_published
from shared._kit.timers import Timers
from tests.unit.counter_service import Counter, Pinged

pytestmark = pytest.mark.integration
WHEN = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)


async def test_a_bulk_creation_replayed_after_a_partial_one_creates_each_aggregate_once(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    clock = ManualClock(WHEN)
    store = AggregateStore(mongo_db["visits"], Counter, clock=clock)
    timers = Timers(mongo_db["timers"], service="svc", clock=clock, owner="t")
    cause = CloudEvent(id="launch-1", source="/intake/tests", type="svc.ping", subject="c")
    items = [
        (f"v{n:04}", Counter(total=n), [Pinged(key=f"v{n:04}", n=n, total=n)]) for n in range(500)
    ]

    def ctx() -> Context:
        return Context.of(cause, source="/services/svc", clock=clock, timers=timers)

    # a first delivery died after creating a fifth of them
    await store.create_many(ctx(), items[:100])
    replay = await store.create_many(ctx(), items)
    await mark_all_published(replay)

    assert sum(a.duplicate for a in replay) == 100
    assert await store.count() == 500
    assert await mongo_db["visits"].count_documents({"outbox_since": None}) == 500
    ids = {a.events[0].id for a in replay}
    assert len(ids) == 500
