"""FerretDB's SQLite pool (100 connections per database) and the proxy's write deadline.

Each test runs a FerretDB of its own (the cached, patched build), since wedging a
database of the shared one would stall every test after it.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import ExecutionTimeout

from infra.artifacts import cache_dir, ferretdb_binary
from infra.servers import ferretdb_argv
from tests.platform.private_kafka import free_low_port
from tests.support import eventually

pytestmark = pytest.mark.integration

Client = AsyncMongoClient[dict[str, Any]]
WRITE_TIMEOUT_S = 2.0
POOL_SIZE = 100  # FerretDB v1.24: SetMaxOpenConns(100) per SQLite database


@dataclass
class Server:
    url: str
    log: Path

    def client(self, **options: Any) -> Client:
        return AsyncMongoClient(self.url, serverSelectionTimeoutMS=5000, **options)


@pytest.fixture
async def ferretdb(tmp_path: Path) -> AsyncIterator[Server]:
    binary = await ferretdb_binary(cache_dir())
    port = free_low_port()
    log = tmp_path / "ferretdb.log"
    argv = ferretdb_argv(binary, port, tmp_path / "data", write_timeout_s=WRITE_TIMEOUT_S)
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=out, stderr=out)
    server = Server(f"mongodb://127.0.0.1:{port}/", log)

    async def answers() -> bool:
        if proc.returncode is not None:
            raise AssertionError(f"FerretDB exited: {log.read_text()}")
        client = server.client()
        try:
            await client.admin.command("ping")
        finally:
            await client.close()
        return True

    try:
        await eventually(answers, timeout_s=30, what="private FerretDB answers")
        yield server
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def test_one_update_of_many_statements_by_id_answers_and_leaves_the_database_usable(
    ferretdb: Server,
) -> None:
    """Unpatched v1.24 holds a pooled connection per statement until the command ends:
    the 100th single-document statement waited for ever, and so did the database."""
    statements = 3 * POOL_SIZE
    client = ferretdb.client(socketTimeoutMS=30_000)
    try:
        docs = client["bulk"]["docs"]
        await docs.insert_many([{"_id": f"d{n}", "v": 0} for n in range(statements)])

        result = await docs.bulk_write(
            [UpdateOne({"_id": f"d{n}"}, {"$set": {"v": 1}}) for n in range(statements)]
        )
        await docs.insert_one({"_id": "after", "v": 1})

        assert result.modified_count == statements
        assert await docs.count_documents({"v": 1}) == statements + 1
    finally:
        await client.close()


async def test_a_write_ferretdb_never_answers_times_out_and_releases_the_database_lock(
    ferretdb: Server,
) -> None:
    holder = ferretdb.client()
    writer, queued = ferretdb.client(socketTimeoutMS=30_000), ferretdb.client()
    try:
        db = holder["wedged"]
        await db["docs"].insert_many([{"_id": f"d{n}", "v": 0} for n in range(5)])
        # each open cursor holds one of the database's pooled connections: a write
        # then waits in FerretDB for a connection for as long as they stay open
        cursors = [db["docs"].find({}, batch_size=1) for _ in range(POOL_SIZE)]
        for cursor in cursors:
            await cursor.next()

        async def timed(write: Any) -> tuple[BaseException | None, float]:
            started = time.monotonic()
            try:
                await write
            except ExecutionTimeout as exc:
                return exc, time.monotonic() - started
            return None, time.monotonic() - started

        stuck = asyncio.create_task(
            timed(writer["wedged"]["docs"].update_one({"_id": "d1"}, {"$set": {"v": 1}}))
        )
        await asyncio.sleep(WRITE_TIMEOUT_S / 4)  # the second write queues behind the first
        behind = asyncio.create_task(timed(queued["wedged"]["docs"].insert_one({"_id": "late"})))
        other_started = time.monotonic()
        await holder["elsewhere"]["docs"].insert_one({"_id": "fine"})
        other_took = time.monotonic() - other_started
        (stuck_error, stuck_took), (behind_error, behind_took) = await asyncio.gather(stuck, behind)

        for cursor in cursors:
            await cursor.close()
        # the database works again through the proxy: its lock is free
        await holder["wedged"]["docs"].update_one({"_id": "d2"}, {"$set": {"v": 2}})

        async def late_write_applied() -> bool:
            return await db["docs"].find_one({"_id": "d1"}) == {"_id": "d1", "v": 1}

        # the timed-out write was still in FerretDB and went through once it could
        await eventually(late_write_applied, timeout_s=10, what="the timed-out update applied")
    finally:
        for client in (holder, writer, queued):
            await client.close()

    assert other_took < 1.0, "another database was held up"
    assert stuck_error is not None, "the stuck write did not time out"
    assert WRITE_TIMEOUT_S <= stuck_took < WRITE_TIMEOUT_S + 2
    assert "waiting for FerretDB's answer" in str(stuck_error)
    assert behind_error is not None, "the write queued behind it did not time out"
    assert behind_took < WRITE_TIMEOUT_S + 2
    assert "proxy: write timed out" in ferretdb.log.read_text()
    print(f"stuck={stuck_took:.2f}s behind={behind_took:.2f}s other_db={other_took:.3f}s")
