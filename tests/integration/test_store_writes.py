"""Writes on the real MongoDB-compatible server: an update command's statements see each
other's writes (FerretDB is patched to write those by `_id` in one transaction), and the
outbox marking never loses to a write of this process in flight."""

import asyncio
from typing import Any

import pytest
from bson import ObjectId
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from shared import AggregateStore
from shared._kit.clock import ManualClock
from shared._kit.marking import published_later
from shared._kit.unit import Unit
from tests.unit.slots_support import Slots, ctx_in, take

pytestmark = pytest.mark.integration
Db = AsyncDatabase[dict[str, Any]]


async def test_statements_of_one_update_see_what_the_earlier_ones_wrote(mongo_db: Db) -> None:
    docs = mongo_db["docs"]
    oid = ObjectId()
    await docs.insert_many(
        [
            {"_id": "a", "version": 1, "n": 0, "tag": "x"},
            {"_id": "b", "version": 1, "n": 0},
            {"_id": oid, "version": 1, "n": 0},
        ]
    )

    result = await docs.bulk_write(
        [
            UpdateOne({"_id": "a", "version": 1}, {"$set": {"version": 2}, "$inc": {"n": 1}}),
            # the same compare-and-set again must see the first: it no longer matches
            UpdateOne({"_id": "a", "version": 1}, {"$set": {"version": 3}, "$inc": {"n": 1}}),
            UpdateOne({"_id": "a", "version": 2}, {"$inc": {"n": 10}}),
            UpdateOne({"_id": oid, "version": 1}, {"$set": {"version": 2}}),
            UpdateOne({"_id": "b"}, {"$inc": {"n": 1}}),
            # a filter without `_id` reads what the statements before it wrote
            UpdateOne({"tag": "x", "n": 11}, {"$set": {"seen": True}}),
            UpdateOne({"_id": "c"}, {"$set": {"n": 5}}, upsert=True),
            UpdateOne({"_id": "c", "n": 5}, {"$inc": {"n": 1}}),
        ]
    )

    assert result.matched_count == 6
    assert result.modified_count == 6
    assert list((result.upserted_ids or {}).values()) == ["c"]  # (FerretDB numbers it 0, not 6)
    assert await docs.find_one({"_id": "a"}) == {
        "_id": "a",
        "version": 2,
        "n": 11,
        "tag": "x",
        "seen": True,
    }
    assert await docs.find_one({"_id": "b"}) == {"_id": "b", "version": 1, "n": 1}
    assert (await docs.find_one({"_id": oid}) or {})["version"] == 2
    assert await docs.find_one({"_id": "c"}) == {"_id": "c", "n": 6}


async def test_a_failing_statement_leaves_the_earlier_ones_written(mongo_db: Db) -> None:
    docs = mongo_db["docs"]
    await docs.insert_many([{"_id": "a", "n": 0}, {"_id": "b", "n": 0}])

    # (the command itself: FerretDB's answer to it lacks the nModified pymongo expects)
    answer = await mongo_db.command(
        {
            "update": "docs",
            "ordered": True,
            "updates": [
                {"q": {"_id": "a"}, "u": {"$set": {"n": 1}}},
                {"q": {"_id": "b"}, "u": {"$set": {"_id": "renamed"}}},  # _id is immutable
            ],
        }
    )

    assert [e["code"] for e in answer["writeErrors"]] == [66]  # ImmutableField
    assert await docs.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
    assert await docs.find_one({"_id": "b"}) == {"_id": "b", "n": 0}
    assert await docs.count_documents({}) == 2


async def test_many_compare_and_sets_in_one_command_each_apply_once(mongo_db: Db) -> None:
    docs = mongo_db["docs"]
    await docs.bulk_write([InsertOne({"_id": f"d{n}", "version": 1}) for n in range(300)])
    ops = [UpdateOne({"_id": f"d{n}", "version": 1}, {"$inc": {"version": 1}}) for n in range(300)]

    first = await docs.bulk_write(ops, ordered=False)
    again = await docs.bulk_write(ops, ordered=False)  # the same versions: all stale now

    assert (first.modified_count, again.modified_count) == (300, 0)
    assert await docs.count_documents({"version": 2}) == 300


async def test_compare_and_set_replacements_match_as_mongodb_does(mongo_db: Db) -> None:
    """The platform writes aggregates as `{_id, version}` → whole document; FerretDB
    (patched) writes those without reading the stored document, and runs any it could
    not make so as before: each case here must answer as MongoDB does."""
    docs = mongo_db["docs"]
    await docs.insert_many(
        [
            {"_id": "a", "version": 1, "old": True},
            {"_id": "b", "version": 1},
            {"_id": "same", "version": 1, "v": 1},
            {"_id": "arr", "version": [7, 8]},  # matches {version: 7} in MongoDB
            {"_id": "dbl", "version": 3.0},  # matches {version: 3}
        ]
    )

    result = await docs.bulk_write(
        [
            ReplaceOne({"_id": "a", "version": 1}, {"version": 2, "new": True}),
            ReplaceOne({"_id": "a", "version": 1}, {"version": 3}),  # sees the first: stale
            ReplaceOne({"_id": "b", "version": 9}, {"version": 10}),  # stale
            ReplaceOne({"_id": "same", "version": 1}, {"version": 1, "v": 1}),  # no change
            ReplaceOne({"_id": "arr", "version": 7}, {"version": 8}),
            ReplaceOne({"_id": "dbl", "version": 3}, {"version": 4}),
            ReplaceOne({"_id": "nobody", "version": 1}, {"version": 2}),
        ],
        ordered=False,
    )

    assert result.matched_count == 4
    # MongoDB does not count the unchanged one as modified; FerretDB v1.24 does, patched
    # or not (its replacement compares the stored document, _id included, with the new)
    assert result.modified_count in (3, 4)
    assert await docs.find_one({"_id": "a"}) == {"_id": "a", "version": 2, "new": True}
    assert await docs.find_one({"_id": "b"}) == {"_id": "b", "version": 1}
    assert await docs.find_one({"_id": "same"}) == {"_id": "same", "version": 1, "v": 1}
    assert await docs.find_one({"_id": "arr"}) == {"_id": "arr", "version": 8}
    assert await docs.find_one({"_id": "dbl"}) == {"_id": "dbl", "version": 4}
    assert await docs.count_documents({}) == 5


async def test_a_replacement_that_changes_the_id_is_refused_as_before(mongo_db: Db) -> None:
    docs = mongo_db["docs"]
    await docs.insert_one({"_id": "a", "version": 1})

    answer = await mongo_db.command(
        {
            "update": "docs",
            "updates": [{"q": {"_id": "a", "version": 1}, "u": {"_id": "b", "version": 2}}],
        }
    )

    assert [e["code"] for e in answer["writeErrors"]] == [66]
    assert await docs.find_one({"_id": "a"}) == {"_id": "a", "version": 1}


class _CountedReads:
    """The collection, counting the reads of single documents."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        if name == "find_one":
            self.count += 1
        return getattr(self._collection, name)


async def test_marking_waits_for_a_write_in_flight_instead_of_reading_again(mongo_db: Db) -> None:
    """`mark_sent` compares the versions it remembers; a unit's write of the same
    aggregate, in flight when it starts, used to make it lose and read each document
    again (and the next unit after it)."""
    store: AggregateStore[Slots] = AggregateStore(
        mongo_db["slots"],
        Slots,
        clock=ManualClock(ctx_in("x", None).clock.now()),
    )
    first = Unit()
    for n in range(20):
        await store.apply(f"s{n}", ctx_in("m1", first), take("v1"))
    await first.write()
    published_later([a for s in first.staged.values() for a in s.applied])
    assert store.unmarked == 20
    reads = _CountedReads(store.collection)
    store.collection = reads  # type: ignore[assignment]

    second = Unit()
    for n in range(20):
        await store.apply(f"s{n}", ctx_in("m2", second), take("v2"))
    writing = asyncio.create_task(second.write())
    await asyncio.sleep(0)  # the unit's bulk write is on its way
    await asyncio.gather(writing, store.mark_sent())
    await store.mark_sent()

    assert reads.count == 0, "nothing read again"
    assert store.unmarked == 0
    async for doc in mongo_db["slots"].find({}):
        assert doc["version"] == 2
        assert doc["state"]["taken"] == ["v1", "v2"]
        assert all("m1" not in entry for entry in doc["outbox"]), "the first events left"
