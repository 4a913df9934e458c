"""A unit of work keeps what one-by-one handling promises: a saga's steps become durable in
order, and a refusal taken on a remembered copy is checked against the stored one."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import Field

from shared import AggregateStore, Change, Context, Fact, Reason, Rejected, State
from shared._kit.clock import ManualClock
from shared._kit.envelope import CloudEvent
from shared._kit.memory import MemoryDatabase
from shared._kit.outbox import PACKED_FROM
from shared._kit.unit import Conflict, Unit

FULL = Reason("full", "no room left")


class Slots(State):
    taken: list[str] = Field(default_factory=list)
    settled: list[str] = Field(default_factory=list)


class Taken(Fact, type="t.taken", subject="slot"):
    slot: str


class _Timers:
    async def schedule(self, *_: Any, **__: Any) -> None:
        return None

    async def cancel(self, *_: Any, **__: Any) -> None:
        return None


def _ctx(event_id: str, unit: Unit | None) -> Context:
    event = CloudEvent(id=event_id, source="/test", type="t.cmd", subject="s")
    clock = ManualClock(datetime(2026, 11, 28, tzinfo=UTC))
    return Context.of(event, source="/test", clock=clock, timers=_Timers(), unit=unit)  # type: ignore[arg-type]


def _stores(db: MemoryDatabase) -> tuple[AggregateStore[Slots], AggregateStore[Slots]]:
    clock = ManualClock(datetime(2026, 11, 28, tzinfo=UTC))
    return (
        AggregateStore(db["roster"], Slots, clock=clock),  # type: ignore[arg-type]
        AggregateStore(db["visits"], Slots, clock=clock),  # type: ignore[arg-type]
    )


def _take(name: str) -> Any:
    def decide(state: Slots | None) -> Change[Slots]:
        s = state or Slots()
        return Change(Slots(taken=[*s.taken, name], settled=s.settled), [Taken(slot=name)])

    return decide


def _settle(name: str) -> Any:
    def decide(state: Slots | None) -> Change[Slots]:
        s = state or Slots()
        return Change(Slots(taken=s.taken, settled=[*s.settled, name]), [])

    return decide


async def test_a_saga_step_after_others_writes_the_earlier_steps_first() -> None:
    db = MemoryDatabase()
    roster, visits = _stores(db)
    unit = Unit()
    ctx = _ctx("m1", unit)
    await roster.apply("r", ctx.step("reserve"), _take("v1"))
    await visits.apply("b1", ctx.step("visits"), _take("h1"))
    assert db["visits"].docs == {}, "staged, not written"

    await roster.apply("r", ctx.step("settle"), _settle("v1"))

    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"], "stored before the settlement"
    assert db["roster"].docs["r"]["state"] == {"taken": ["v1"], "settled": []}
    await unit.write()
    assert db["roster"].docs["r"]["state"]["settled"] == ["v1"]
    assert db["roster"].docs["r"]["version"] == 2


async def test_two_changes_in_a_row_to_one_aggregate_are_one_write() -> None:
    db = MemoryDatabase()
    roster, _ = _stores(db)
    unit = Unit()
    ctx = _ctx("m1", unit)
    await roster.apply("r", ctx.step("reserve"), _take("v1"))
    await roster.apply("r", ctx.step("settle"), _settle("v1"))

    assert "r" not in db["roster"].docs
    await unit.write()
    assert db["roster"].docs["r"]["version"] == 1


async def test_a_refusal_after_a_flush_keeps_what_the_flush_wrote() -> None:
    db = MemoryDatabase()
    roster, visits = _stores(db)
    unit = Unit()
    ctx = _ctx("m1", unit)
    checkpoint = unit.checkpoint()
    await roster.apply("r", ctx.step("reserve"), _take("v1"))
    await visits.apply("b1", ctx.step("visits"), _take("h1"))
    await roster.apply("r", ctx.step("settle"), _settle("v1"))

    unit.rollback(checkpoint)  # the handler was refused after its third step
    await unit.write()

    assert db["roster"].docs["r"]["state"] == {"taken": ["v1"], "settled": []}
    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"]


async def test_a_refusal_on_a_remembered_copy_is_checked_against_the_stored_one() -> None:
    db = MemoryDatabase()
    roster, _ = _stores(db)
    await roster.apply("r", _ctx("m0", None), _take("v1"))  # remembered by this process
    db["roster"].docs["r"]["state"]["taken"] = []  # another replica freed the slot
    db["roster"].docs["r"]["version"] += 1

    def needs_room(state: Slots | None) -> Change[Slots]:
        if state is not None and state.taken:
            raise Rejected(FULL, "taken")
        return Change(Slots(taken=["v2"]), [])

    await roster.apply("r", _ctx("m1", None), needs_room)

    assert db["roster"].docs["r"]["state"]["taken"] == ["v2"]


async def test_a_unit_refusing_on_a_remembered_copy_conflicts_at_its_write() -> None:
    db = MemoryDatabase()
    roster, _ = _stores(db)
    await roster.apply("r", _ctx("m0", None), _take("v1"))
    db["roster"].docs["r"]["version"] += 1  # changed elsewhere since

    unit = Unit()
    with pytest.raises(Rejected):
        await roster.apply("r", _ctx("m1", unit), _raise_full)

    with pytest.raises(Conflict):
        await unit.write()


def _raise_full(_: Slots | None) -> Change[Slots]:
    raise Rejected(FULL, "taken")


class _Finished:
    """The record of finished messages, counting how often it is asked."""

    window = timedelta(days=7)

    def __init__(self) -> None:
        self.asked = 0
        self.done: set[str] = set()

    async def known(self, keys: Sequence[str]) -> set[str]:
        self.asked += 1
        return {k for k in keys if k in self.done}


async def test_a_long_run_of_commands_to_one_aggregate_asks_for_finished_keys_once() -> None:
    db, finished = MemoryDatabase(), _Finished()
    clock = ManualClock(datetime(2026, 11, 28, tzinfo=UTC))
    store = AggregateStore(db["roster"], Slots, clock=clock, finished=finished, inbox_size=5)  # type: ignore[arg-type]
    first = Unit()
    for n in range(30):
        await store.apply("r", _ctx(f"a{n}", first), _take(f"a{n}"))
    await first.write()
    assert finished.asked == 1, "not once per command past the limit"
    assert len(db["roster"].docs["r"]["inbox"]) == 30, "nothing finished yet: all kept"

    finished.done = {_ctx(f"a{n}", None).key for n in range(30)}  # the first unit finished
    second = Unit()
    for n in range(30):
        await store.apply("r", _ctx(f"b{n}", second), _take(f"b{n}"))
    await second.write()
    assert finished.asked == 2
    inbox = db["roster"].docs["r"]["inbox"]
    assert len(inbox) < 30 + 5, "the finished keys of the first unit were dropped"
    assert {e.split(" ")[0] for e in inbox} >= {_ctx(f"b{n}", None).key for n in range(30)}


async def test_inbox_entries_written_in_earlier_formats_still_count_as_applied() -> None:
    db = MemoryDatabase()
    roster, _ = _stores(db)
    plain, as_dict = _ctx("old-1", None), _ctx("old-2", None)
    now = datetime(2026, 11, 28, tzinfo=UTC)
    db["roster"].docs["r"] = {
        "_id": "r",
        "version": 3,
        "state": {"taken": ["x"], "settled": []},
        "inbox": [plain.key, {"k": as_dict.key, "r": as_dict.key, "t": now}],
        "outbox": [],
        "outbox_since": None,
    }

    again = [await roster.apply("r", ctx, _take("y")) for ctx in (plain, as_dict)]
    fresh = await roster.apply("r", _ctx("new", None), _take("z"))

    assert all(a.duplicate for a in again), "recognised in both earlier formats"
    assert fresh.state is not None
    assert fresh.state.taken == ["x", "z"]
    assert db["roster"].docs["r"]["inbox"][-1].startswith(_ctx("new", None).key + " ")


async def test_a_step_written_at_once_writes_the_earlier_steps_first_then_itself() -> None:
    db = MemoryDatabase()
    roster, visits = _stores(db)
    unit = Unit()
    ctx = _ctx("m1", unit)
    await roster.apply("r", ctx.step("reserve"), _take("v1"))
    assert db["roster"].docs == {}, "staged"

    created = await visits.apply("b1", ctx.step("visits", at_once=True), _take("h1"))

    assert db["roster"].docs["r"]["state"]["taken"] == ["v1"], "the reservation first"
    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"], "then the step, at once"
    assert [e.type for e in created.events] == ["t.taken"]
    assert created in ctx.applied, "its events are published with the unit's"
    await roster.apply("r", ctx.step("settle"), _settle("v1"))
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
    roster, visits = _stores(db)
    unit = Unit()
    earlier = _ctx("m0", unit)
    await visits.apply("b1", earlier, _take("h0"))  # an earlier message of the batch
    ctx = _ctx("m1", unit)
    await roster.apply("r", ctx.step("reserve"), _take("v1"))

    await asyncio.gather(
        *(
            visits.apply(block, ctx.step(f"visits:{block}", at_once=True), _take("h1"))
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
    _, visits = _stores(db)
    for _attempt in range(2):
        unit = Unit()
        ctx = _ctx("m1", unit)
        again = await visits.apply("b1", ctx.step("visits", at_once=True), _take("h1"))
        await unit.write()
    assert again.duplicate
    assert [e.type for e in again.events] == ["t.taken"], "still in the outbox: sent again"
    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"]


async def test_outbox_entries_written_as_sub_documents_are_still_published_and_dropped() -> None:
    db = MemoryDatabase()
    roster, _ = _stores(db)
    ctx = _ctx("m1", None)
    event = CloudEvent(id="old-event", source="/test", type="t.taken", subject="v0")
    db["roster"].docs["r"] = {
        "_id": "r",
        "version": 1,
        "state": {"taken": ["v0"], "settled": []},
        "inbox": [f"{ctx.key} {ctx.key} 0"],
        "outbox": [{"id": event.id, "cause": ctx.key, "event": event.model_dump_json()}],
        "outbox_since": datetime(2026, 11, 28, tzinfo=UTC),
    }

    again = await roster.apply("r", ctx, _take("v0"))
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
    roster, _ = _stores(db)
    ctx = _ctx("m1", None)
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
    roster, visits = _stores(db)
    unit = Unit()
    published: list[list[str]] = []

    async def early(applied: list[Any]) -> None:
        published.append([(e.data or {})["slot"] for a in applied for e in a.events])
        unit.published.update(e.id for a in applied for e in a.events)

    unit.early = early
    ctx = _ctx("m1", unit)
    await roster.apply("r", ctx.step("reserve"), _take("v1"))
    await visits.apply("b1", ctx.step("visits:b1", at_once=True), _take("h1"))
    await visits.apply("b2", ctx.step("visits:b2", at_once=True), _take("h2"))
    await roster.apply("r", ctx.step("settle"), _take("v2"))
    await unit.published_early()

    assert published == [["v1"], ["h1"], ["h2"]], "the reservation, then each block, in order"
    later = [e.subject for a in ctx.applied for e in a.events if e.id not in unit.published]
    assert later == ["v2"], "left for the unit's end"


async def test_a_failed_early_publishing_is_raised_where_the_unit_ends() -> None:
    db = MemoryDatabase()
    _, visits = _stores(db)
    unit = Unit()

    async def refused(_: list[Any]) -> None:
        raise ConnectionError("broker gone")

    unit.early = refused
    await visits.apply("b1", _ctx("m1", unit).step("visits", at_once=True), _take("h1"))

    with pytest.raises(ConnectionError):
        await unit.published_early()
    assert db["visits"].docs["b1"]["outbox"], "still in the outbox, for the relay"
