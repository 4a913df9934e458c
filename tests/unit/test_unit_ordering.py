"""A unit of work keeps what one-by-one handling promises: a saga's steps become durable in
order, and a refusal taken on a remembered copy is checked against the stored one."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shared import AggregateStore, Change, Reason, Rejected
from shared._kit.clock import ManualClock
from shared._kit.memory import MemoryDatabase
from shared._kit.unit import Conflict, Unit
from tests.unit.slots_support import Slots, ctx_in, settle, stores, take

FULL = Reason("full", "no room left")


async def test_a_saga_step_after_others_writes_the_earlier_steps_first() -> None:
    db = MemoryDatabase()
    roster, visits = stores(db)
    unit = Unit()
    ctx = ctx_in("m1", unit)
    await roster.apply("r", ctx.step("reserve"), take("v1"))
    await visits.apply("b1", ctx.step("visits"), take("h1"))
    assert db["visits"].docs == {}, "staged, not written"

    await roster.apply("r", ctx.step("settle"), settle("v1"))

    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"], "stored before the settlement"
    assert db["roster"].docs["r"]["state"] == {"taken": ["v1"], "settled": []}
    await unit.write()
    assert db["roster"].docs["r"]["state"]["settled"] == ["v1"]
    assert db["roster"].docs["r"]["version"] == 2


async def test_two_changes_in_a_row_to_one_aggregate_are_one_write() -> None:
    db = MemoryDatabase()
    roster, _ = stores(db)
    unit = Unit()
    ctx = ctx_in("m1", unit)
    await roster.apply("r", ctx.step("reserve"), take("v1"))
    await roster.apply("r", ctx.step("settle"), settle("v1"))

    assert "r" not in db["roster"].docs
    await unit.write()
    assert db["roster"].docs["r"]["version"] == 1


async def test_a_refusal_after_a_flush_keeps_what_the_flush_wrote() -> None:
    db = MemoryDatabase()
    roster, visits = stores(db)
    unit = Unit()
    ctx = ctx_in("m1", unit)
    checkpoint = unit.checkpoint()
    await roster.apply("r", ctx.step("reserve"), take("v1"))
    await visits.apply("b1", ctx.step("visits"), take("h1"))
    await roster.apply("r", ctx.step("settle"), settle("v1"))

    unit.rollback(checkpoint)  # the handler was refused after its third step
    await unit.write()

    assert db["roster"].docs["r"]["state"] == {"taken": ["v1"], "settled": []}
    assert db["visits"].docs["b1"]["state"]["taken"] == ["h1"]


async def test_a_refusal_on_a_remembered_copy_is_checked_against_the_stored_one() -> None:
    db = MemoryDatabase()
    roster, _ = stores(db)
    await roster.apply("r", ctx_in("m0", None), take("v1"))  # remembered by this process
    db["roster"].docs["r"]["state"]["taken"] = []  # another replica freed the slot
    db["roster"].docs["r"]["version"] += 1

    def needs_room(state: Slots | None) -> Change[Slots]:
        if state is not None and state.taken:
            raise Rejected(FULL, "taken")
        return Change(Slots(taken=["v2"]), [])

    await roster.apply("r", ctx_in("m1", None), needs_room)

    assert db["roster"].docs["r"]["state"]["taken"] == ["v2"]


async def test_a_unit_refusing_on_a_remembered_copy_conflicts_at_its_write() -> None:
    db = MemoryDatabase()
    roster, _ = stores(db)
    await roster.apply("r", ctx_in("m0", None), take("v1"))
    db["roster"].docs["r"]["version"] += 1  # changed elsewhere since

    unit = Unit()
    with pytest.raises(Rejected):
        await roster.apply("r", ctx_in("m1", unit), _raise_full)

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
        await store.apply("r", ctx_in(f"a{n}", first), take(f"a{n}"))
    await first.write()
    assert finished.asked == 1, "not once per command past the limit"
    assert len(db["roster"].docs["r"]["inbox"]) == 30, "nothing finished yet: all kept"

    finished.done = {ctx_in(f"a{n}", None).key for n in range(30)}  # the first unit finished
    second = Unit()
    for n in range(30):
        await store.apply("r", ctx_in(f"b{n}", second), take(f"b{n}"))
    await second.write()
    assert finished.asked == 2
    inbox = db["roster"].docs["r"]["inbox"]
    assert len(inbox) < 30 + 5, "the finished keys of the first unit were dropped"
    assert {e.split(" ")[0] for e in inbox} >= {ctx_in(f"b{n}", None).key for n in range(30)}


async def test_inbox_entries_written_in_earlier_formats_still_count_as_applied() -> None:
    db = MemoryDatabase()
    roster, _ = stores(db)
    plain, as_dict = ctx_in("old-1", None), ctx_in("old-2", None)
    now = datetime(2026, 11, 28, tzinfo=UTC)
    db["roster"].docs["r"] = {
        "_id": "r",
        "version": 3,
        "state": {"taken": ["x"], "settled": []},
        "inbox": [plain.key, {"k": as_dict.key, "r": as_dict.key, "t": now}],
        "outbox": [],
        "outbox_since": None,
    }

    again = [await roster.apply("r", ctx, take("y")) for ctx in (plain, as_dict)]
    fresh = await roster.apply("r", ctx_in("new", None), take("z"))

    assert all(a.duplicate for a in again), "recognised in both earlier formats"
    assert fresh.state is not None
    assert fresh.state.taken == ["x", "z"]
    assert db["roster"].docs["r"]["inbox"][-1].startswith(ctx_in("new", None).key + " ")


async def test_a_refusal_goes_back_to_the_last_checkpoint_and_only_to_it() -> None:
    db = MemoryDatabase()
    roster, visits = stores(db)
    unit = Unit()
    unit.checkpoint()
    await roster.apply("r", ctx_in("m1", unit), take("v1"))
    kept = unit.checkpoint()  # m2 starts: m1's change stays whatever m2 does
    await roster.apply("r", ctx_in("m2", unit), take("v2"))
    await visits.apply("b1", ctx_in("m2", unit), take("h1"))  # staged only since

    unit.rollback(kept)
    await unit.write()

    assert db["roster"].docs["r"]["state"]["taken"] == ["v1"]
    assert db["roster"].docs["r"]["version"] == 1
    assert db["visits"].docs == {}, "what only the refused message staged is gone"
    assert len(unit.staged) == 1
