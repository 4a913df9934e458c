"""The campaign and hand-out flows on real FerretDB, the service's wiring in-process:
killed between any two writes then redelivered, they end as an uninterrupted run; run
at the same moment, they never give a volunteer more than their maximum."""

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.outreach import commands as c
from services.outreach.app import SERVICE
from services.outreach.settings import OutreachSettings
from services.outreach.state import ROSTER_ID, BlockVisitsState, RosterState
from services.outreach.store import visits_collection
from shared import AggregateStore, Command, Context, Runtime
from shared._kit.clock import ManualClock
from shared._kit.envelope import CloudEvent
from shared._kit.marking import mark_all_published
from tests.integration.outreach_support import household, volunteer, warning

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
B1, B2 = "block-01", "block-02"
Document = dict[str, Any]


class Killed(Exception):  # noqa: N818 - stands for the process dying
    pass


def runtime_on(db: AsyncDatabase[Document]) -> Runtime[OutreachSettings]:
    """The service's real wiring on a real database, without Kafka."""
    settings = OutreachSettings.model_validate(
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "MONGODB_URL": "mongodb://unused/"}
    )
    runtime = Runtime(
        service="outreach",
        settings=settings,
        db=db,
        clock=ManualClock(WHEN),
        timer_owner="test",
    )
    SERVICE.wire(runtime)
    return runtime


async def deliver(runtime: Runtime[OutreachSettings], message: Command, event_id: str) -> Context:
    """One command through its handler, then marked published as the pipeline would."""
    event = CloudEvent(
        id=event_id,
        source="/intake/tests",
        type=message.type,
        subject=message.subject_value(),
        time=WHEN,
        data=message.model_dump(mode="json"),
    )
    ctx = Context.of(event, source=runtime.source, clock=runtime.clock, timers=runtime.timers)
    route = runtime.routes[runtime.intake][message.type]
    await route.handler(route.model.model_validate(event.data), ctx)
    await mark_all_published(ctx.applied)
    return ctx


async def stocked(runtime: Runtime[OutreachSettings]) -> None:
    """Two blocks of elderly households, more of them than volunteers have room for."""
    homes = [household(f"h{n:02}", [B1, B2][n % 2], ages=(60 + n,)) for n in range(14)]
    people = [
        volunteer("v1", [B1], org="bank", max_open=3),
        volunteer("v2", [B1, B2], org="grid_worker", max_open=4),
        volunteer("v3", [B2], org="community", max_open=3),
    ]
    for n, message in enumerate([*homes, *people]):
        await deliver(runtime, message, f"seed-{n}")


async def snapshot(db: AsyncDatabase[Document]) -> dict[str, Any]:
    return {
        name: sorted((doc["_id"], doc["state"]) for doc in await db[name].find({}).to_list())
        for name in ("roster", "campaigns", "registry", *map(visits_collection, (B1, B2)))
    }


async def _killed_at(
    db: AsyncDatabase[Document], kill_at: int | None, *, then: Command
) -> dict[str, Any]:
    """Stock the service, then deliver `then`; with `kill_at`, its kill_at-th write dies and
    the same command is delivered again. What the run left: states and published ids."""
    runtime = runtime_on(db)
    await stocked(runtime)
    await deliver(runtime, warning("w-1", "fake_refund", blocks=[], min_age=60), "warning-1")
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
        with contextlib.suppress(Killed):
            ctx = await deliver(runtime, then, "under-test")
        first_writes = writes
        if kill_at is not None:
            ctx = await deliver(runtime, then, "under-test")
    finally:
        AggregateStore.apply = real_apply  # type: ignore[method-assign]
    published = {e.id for a in ctx.applied for e in a.events}
    return {"states": await snapshot(db), "published": published, "writes": first_writes}


async def _every_kill_point(mongo_db: AsyncDatabase[Document], then: Command) -> int:
    clean = await _killed_at(mongo_db.client[f"{mongo_db.name}_clean"], None, then=then)
    try:
        for kill_at in range(1, clean["writes"] + 1):
            db = mongo_db.client[f"{mongo_db.name}_k{kill_at}"]
            try:
                crashed = await _killed_at(db, kill_at, then=then)
            finally:
                await mongo_db.client.drop_database(db.name)
            assert crashed["states"] == clean["states"], f"killed at write {kill_at}"
            assert crashed["published"] == clean["published"], f"killed at write {kill_at}"
    finally:
        await mongo_db.client.drop_database(f"{mongo_db.name}_clean")
    roster = RosterState.model_validate(dict(clean["states"]["roster"])[ROSTER_ID])
    assert roster.pending == []
    return int(clean["writes"])


async def test_a_campaign_killed_between_any_two_writes_ends_as_if_it_never_died(
    mongo_db: AsyncDatabase[Document],
) -> None:
    then = warning("w-2", "fake_loan", blocks=[B1, B2], min_age=66)

    steps = await _every_kill_point(mongo_db, then)

    # campaign, reserve, block 1, block 2, settle
    assert steps == 5


async def test_a_freed_slot_handed_out_killed_between_any_two_writes_ends_the_same(
    mongo_db: AsyncDatabase[Document],
) -> None:
    probe = runtime_on(mongo_db)
    await stocked(probe)
    ctx = await deliver(probe, warning("w-1", "fake_refund", blocks=[], min_age=60), "warning-1")
    first = next(e for a in ctx.applied for e in a.events if e.type == "outreach.visit_assigned")
    assert first.data is not None
    then = c.ReportVisit(
        visit_id=first.data["visit_id"], volunteer_id=first.data["volunteer_id"], outcome="refused"
    )
    await mongo_db.client.drop_database(mongo_db.name)

    steps = await _every_kill_point(mongo_db, then)

    # the report, reserve (the freed slot back and taken again), the block, settle
    assert steps == 4


async def _assigned(db: AsyncDatabase[Document]) -> Counter[str]:
    held: Counter[str] = Counter()
    for name in map(visits_collection, (B1, B2)):
        for doc in await db[name].find({}).to_list():
            state = BlockVisitsState.model_validate(doc["state"])
            held.update(
                v.volunteer_id for v in state.visits if v.volunteer_id and v.status == "assigned"
            )
    return held


@pytest.mark.parametrize("trial", range(4))
async def test_campaigns_and_reports_at_the_same_moment_never_over_commit(
    mongo_db: AsyncDatabase[Document], trial: int
) -> None:
    runtime = runtime_on(mongo_db)
    await stocked(runtime)
    ctx = await deliver(runtime, warning("w-1", "fake_refund", blocks=[], min_age=60), "w-1")
    held = [e.data for a in ctx.applied for e in a.events if e.type == "outreach.visit_assigned"]
    reports = [
        c.ReportVisit(visit_id=d["visit_id"], volunteer_id=d["volunteer_id"], outcome="completed")
        for d in held[:4]
        if d is not None
    ]
    racing = [
        deliver(runtime, warning(f"w-{trial}-a", "fake_loan", blocks=[B1], min_age=60), "a"),
        deliver(runtime, warning(f"w-{trial}-b", "fake_loan", blocks=[B2], min_age=60), "b"),
        deliver(runtime, volunteer("v4", [B1, B2], org="police", max_open=2), "join"),
        *(deliver(runtime, r, f"report-{n}") for n, r in enumerate(reports)),
    ]

    await asyncio.gather(*racing)

    doc = await mongo_db["roster"].find_one({"_id": ROSTER_ID})
    assert doc is not None
    roster = RosterState.model_validate(doc["state"])
    counted = {v.volunteer_id: v.open_visits for v in roster.volunteers}
    maximum = {v.volunteer_id: v.max_open_visits for v in roster.volunteers}
    assert Counter(counted) - Counter() == await _assigned(mongo_db)
    assert all(counted[v] <= maximum[v] for v in counted), counted
    assert roster.pending == []
    assert sum(counted.values()) == sum(maximum.values()), "14 + 14 visits: every slot is used"
