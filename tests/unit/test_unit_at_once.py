"""Steps written at once (and published at once), and what the outbox stores: entries as
strings, many events of one change packed in one entry, earlier forms still read."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import Change
from shared._kit.envelope import CloudEvent
from shared._kit.memory import MemoryDatabase
from shared._kit.outbox import PACKED_FROM
from shared._kit.unit import Unit
from tests.unit.slots_support import Slots, Taken, ctx_in, settle, stores, take


async def test_a_step_written_at_once_writes_the_earlier_steps_first_then_itself() -> None:
    db = MemoryDatabase()
    roster, visits = stores(db)
    unit = Unit()
    ctx = ctx_in("m1", unit)
    await roster.apply("r", ctx.step("reserve"), take("v1"))
    assert db["roster"].docs == {}, "staged"

    created = await visits.apply("b1", ctx.step("visits", at_once=True), take("h1"))

    assert db["roster"].docs["r"]["state"]["taken"] == ["v1"], "the reservation first"
    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"], "then the step, at once"
    assert [e.type for e in created.events] == ["t.taken"]
    assert created in ctx.applied, "its events are published with the unit's"
    await roster.apply("r", ctx.step("settle"), settle("v1"))
    assert db["roster"].docs["r"]["state"]["settled"] == [], "the settlement waits for the unit"
    await unit.write()
    assert db["roster"].docs["r"]["state"] == {"taken": ["v1"], "settled": ["v1"]}
    assert db["roster"].docs["r"]["version"] == 2


async def test_steps_written_at_once_side_by_side_write_the_unit_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parallel steps each ask for the unit to be written first: one write, no conflict,
    and what the unit staged of their aggregates before is not written over them."""
    db = MemoryDatabase()
    collection = type(db["roster"])
    for name in ("find_one", "insert_one", "bulk_write", "update_one"):
        monkeypatch.setattr(collection, name, _yielding(getattr(collection, name)))
    roster, visits = stores(db)
    unit = Unit()
    earlier = ctx_in("m0", unit)
    await visits.apply("b1", earlier, take("h0"))  # an earlier message of the batch
    ctx = ctx_in("m1", unit)
    await roster.apply("r", ctx.step("reserve"), take("v1"))

    await asyncio.gather(
        *(
            visits.apply(block, ctx.step(f"visits:{block}", at_once=True), take("h1"))
            for block in ("b1", "b2", "b3")
        )
    )
    await unit.write()

    assert db["roster"].docs["r"]["version"] == 1
    assert db["visits"].docs["b1"]["state"]["taken"] == ["h0", "h1"]
    assert db["visits"].docs["b1"]["version"] == 2
    assert {b: d["state"]["taken"] for b, d in db["visits"].docs.items()} == {
        "b1": ["h0", "h1"],
        "b2": ["h1"],
        "b3": ["h1"],
    }


def _yielding(call: Any) -> Any:
    """The in-memory call, taking a turn of the event loop first as a server round trip
    does (so tasks run side by side really interleave)."""

    async def call_later(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        return await call(*args, **kwargs)

    return call_later


async def test_a_step_written_at_once_and_replayed_is_a_duplicate() -> None:
    db = MemoryDatabase()
    _, visits = stores(db)
    for _attempt in range(2):
        unit = Unit()
        ctx = ctx_in("m1", unit)
        again = await visits.apply("b1", ctx.step("visits", at_once=True), take("h1"))
        await unit.write()
    assert again.duplicate
    assert [e.type for e in again.events] == ["t.taken"], "still in the outbox: sent again"
    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"]


async def test_outbox_entries_written_as_sub_documents_are_still_published_and_dropped() -> None:
    db = MemoryDatabase()
    roster, _ = stores(db)
    ctx = ctx_in("m1", None)
    event = CloudEvent(id="old-event", source="/test", type="t.taken", subject="v0")
    db["roster"].docs["r"] = {
        "_id": "r",
        "version": 1,
        "state": {"taken": ["v0"], "settled": []},
        "inbox": [f"{ctx.key} {ctx.key} 0"],
        "outbox": [{"id": event.id, "cause": ctx.key, "event": event.model_dump_json()}],
        "outbox_since": datetime(2026, 11, 28, tzinfo=UTC),
    }

    again = await roster.apply("r", ctx, take("v0"))
    assert again.duplicate
    assert again.events == [event]
    assert roster.leftovers(db["roster"].docs["r"]).events == [event]
    await again.mark_published()
    assert db["roster"].docs["r"]["outbox"] == []


def _take_many(names: list[str]) -> Any:
    def decide(state: Slots | None) -> Change[Slots]:
        s = state or Slots()
        return Change(Slots(taken=[*s.taken, *names]), [Taken(slot=n) for n in names])

    return decide


@pytest.mark.parametrize("count", [1, PACKED_FROM - 1, PACKED_FROM, 1_200])
async def test_a_change_with_many_events_is_one_packed_entry_read_back_in_order(
    count: int,
) -> None:
    db = MemoryDatabase()
    roster, _ = stores(db)
    ctx = ctx_in("m1", None)
    names = [f"v{n}" for n in range(count)]

    applied = await roster.apply("r", ctx, _take_many(names))

    outbox = db["roster"].docs["r"]["outbox"]
    assert len(outbox) == (1 if count >= PACKED_FROM else count)
    assert [e.data for e in roster.leftovers(db["roster"].docs["r"]).events] == [
        {"slot": n} for n in names
    ]
    again = await roster.apply("r", ctx, _take_many(names))
    assert again.duplicate
    assert again.events == applied.events, "a replay publishes the same events, in order"
    await roster.mark_published("r", [e.id for e in applied.events[:-1]])
    # an entry leaves once all its events are sent: the last one keeps its entry
    assert len(db["roster"].docs["r"]["outbox"]) == 1
    await roster.mark_published("r", [e.id for e in applied.events])
    assert db["roster"].docs["r"]["outbox"] == []


async def test_a_step_written_at_once_is_published_at_once_after_what_was_written_before() -> None:
    db = MemoryDatabase()
    roster, visits = stores(db)
    unit = Unit()
    published: list[list[str]] = []

    async def early(_: Unit, applied: list[Any]) -> None:
        published.append([(e.data or {})["slot"] for a in applied for e in a.events])
        unit.published.update(e.id for a in applied for e in a.events)

    unit.early = early
    ctx = ctx_in("m1", unit)
    await roster.apply("r", ctx.step("reserve"), take("v1"))
    await visits.apply("b1", ctx.step("visits:b1", at_once=True), take("h1"))
    await visits.apply("b2", ctx.step("visits:b2", at_once=True), take("h2"))
    await roster.apply("r", ctx.step("settle"), take("v2"))
    await unit.published_early()

    assert published == [["v1"], ["h1"], ["h2"]], "the reservation, then each block, in order"
    later = [e.subject for a in ctx.applied for e in a.events if e.id not in unit.published]
    assert later == ["v2"], "left for the unit's end"


async def test_a_failed_early_publishing_is_raised_where_the_unit_ends() -> None:
    db = MemoryDatabase()
    _, visits = stores(db)
    unit = Unit()

    async def refused(_: Unit, __: list[Any]) -> None:
        raise ConnectionError("broker gone")

    unit.early = refused
    await visits.apply("b1", ctx_in("m1", unit).step("visits", at_once=True), take("h1"))

    with pytest.raises(ConnectionError):
        await unit.published_early()
    assert db["visits"].docs["b1"]["outbox"], "still in the outbox, for the relay"
