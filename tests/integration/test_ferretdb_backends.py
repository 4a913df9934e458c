"""What the services rely on holds on both of FerretDB's stores, SQLite and PostgreSQL.

Each test runs a FerretDB of its own (and, for PostgreSQL, a PostgreSQL server of its
own: `infra/store.py`), built and started as `scripts/infra` does.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne

from infra.store import PrivateStore, private_ferretdb
from tests.platform.private_kafka import free_low_port

pytestmark = pytest.mark.integration

Client = AsyncMongoClient[dict[str, Any]]


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PrivateStore]:
    port = free_low_port()
    async with private_ferretdb(
        request.param, tmp_path / "store", port=port, postgresql_port=free_low_port({port})
    ) as found:
        yield found


async def test_guarded_updates_of_one_document_apply_one_at_a_time(store: PrivateStore) -> None:
    client: Client = AsyncMongoClient(store.url)
    try:
        rooms = client["atomic"]["rooms"]
        await rooms.insert_one({"_id": "recipient-1", "room_kg": 10_000})

        async def reserve(kg: int) -> bool:
            updated = await rooms.find_one_and_update(
                {"_id": "recipient-1", "room_kg": {"$gte": kg}},
                {"$inc": {"room_kg": -kg}},
                return_document=ReturnDocument.AFTER,
            )
            return updated is not None

        granted = await asyncio.gather(*[reserve(3_000) for _ in range(10)])

        assert sum(granted) == 3
        assert await rooms.find_one({"_id": "recipient-1"}) == {
            "_id": "recipient-1",
            "room_kg": 1_000,
        }
    finally:
        await client.close()


async def test_a_compare_and_set_matches_by_id_and_version(store: PrivateStore) -> None:
    """The services' `{_id, version}` filter: only the current version matches."""
    client: Client = AsyncMongoClient(store.url)
    try:
        docs = client["cas"]["docs"]
        await docs.insert_many([{"_id": f"a{n}", "version": 0} for n in range(20)])

        first = await docs.update_one({"_id": "a7", "version": 0}, {"$set": {"version": 1}})
        stale = await docs.update_one({"_id": "a7", "version": 0}, {"$set": {"version": 9}})

        assert (first.modified_count, stale.modified_count) == (1, 0)
        assert await docs.find_one({"_id": "a7"}) == {"_id": "a7", "version": 1}
        assert await docs.count_documents({"version": 0}) == 19
    finally:
        await client.close()


async def test_one_update_of_many_statements_by_id_answers(store: PrivateStore) -> None:
    """README, "FerretDB v1.24 hangs": unpatched, the 100th statement waited for ever."""
    client: Client = AsyncMongoClient(store.url, socketTimeoutMS=30_000)
    try:
        docs = client["bulk"]["docs"]
        await docs.insert_many([{"_id": f"d{n}", "v": 0} for n in range(300)])

        result = await docs.bulk_write(
            [UpdateOne({"_id": f"d{n}"}, {"$set": {"v": 1}}) for n in range(300)]
        )
        await docs.insert_one({"_id": "after", "v": 1})

        assert result.modified_count == 300
        assert await docs.count_documents({"v": 1}) == 301
    finally:
        await client.close()


async def test_id_in_lists_find_exactly_the_documents_a_scan_finds(store: PrivateStore) -> None:
    """`{_id: {$in: …}}` is pushed down to the _id index on SQLite (a build patch): the
    documents found are those of a scan, whatever the list holds."""
    client: Client = AsyncMongoClient(store.url)
    try:
        docs = client["lookup"]["processed"]
        await docs.insert_many([{"_id": f"k{n}", "n": n} for n in range(1200)])
        await docs.insert_many([{"_id": n, "n": n} for n in range(5)])

        async def ids(query: dict[str, Any]) -> list[object]:
            return sorted([d["_id"] async for d in docs.find(query)], key=repr)

        strings = [f"k{n}" for n in range(0, 1200, 7)] + ["missing", "k5"]
        assert await ids({"_id": {"$in": strings}}) == sorted(
            {f"k{n}" for n in range(0, 1200, 7)} | {"k5"}, key=repr
        )
        assert await ids({"_id": {"$in": ["k1", 2, "k3"]}}) == sorted(["k1", 2, "k3"], key=repr)
        many = [f"k{n}" for n in range(600)]  # past the 500 pushed down: the scan answers
        assert len(await ids({"_id": {"$in": many}})) == 600
        assert await ids({"_id": {"$in": []}}) == []
        assert await ids({"_id": {"$in": ["k10", "k11"]}, "n": 11}) == ["k11"]
        assert await ids({"_id": {"$in": ["k10"], "$ne": "k10"}}) == []
    finally:
        await client.close()
