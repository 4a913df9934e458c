"""Benchmark: FerretDB v1.24 on SQLite against FerretDB on PostgreSQL, back to back.

    .venv/bin/python -m bench.store_backends [--rounds 3] [--updates 2000] [--events 2000]

Starts a private Kafka once, then in each round a fresh private FerretDB per backend
(PostgreSQL's own private server for the postgresql one), alternating which goes first,
and measures on each:

- `raw`: single-document `update_one` rate through the proxy (bench/platform.py's
  raw_mongo_updates: 50 documents, `--updates` updates, one at a time);
- `raw_big`: the same on a collection of `--big` documents (a filter on `_id` that is
  not turned into SQL reads the whole collection);
- `platform`: the ledger test service as a process, one compare-and-set and one event
  per command (bench/platform.py's platform_handler, `--events` commands);
- `atomicity`: ten concurrent guarded `$inc` updates on one document, exactly 3 must be
  granted (`--trials` times);
- `hang`: one `update` command of 100 statements matching one document each (README,
  "FerretDB v1.24 hangs"), with a client time-out, then a write to the same database;
- `isolation`: 60 cursors left open on one database, then a write to another one.

Prints one JSON line per backend and round, then the medians and spread. Touches no
shared server: every server is private and stopped at the end.
"""

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.errors import PyMongoError

import bench.platform
from bench.common import report as _original_report
from infra.artifacts import cache_dir, kafka_libs
from infra.store import private_ferretdb
from tests.platform.private_kafka import PrivateKafka, free_low_port

Client = AsyncMongoClient[dict[str, Any]]
BACKENDS = ("sqlite", "postgresql")
_last_report: dict[str, float] = {}


def _recording_report(name: str, count: int, seconds: float, latencies_ms: list[float]) -> float:
    """bench.common.report, keeping p50/p99 for the summary."""
    rate = _original_report(name, count, seconds, latencies_ms)
    q = statistics.quantiles(latencies_ms, n=100)
    _last_report.update(rate=rate, p50_ms=q[49], p99_ms=q[98])
    return rate


# bench/platform.py prints its figures through bench.common.report; keep them too
vars(bench.platform)["report"] = _recording_report


async def raw_big(url: str, documents: int, updates: int) -> dict[str, float]:
    client: Client = AsyncMongoClient(url)
    db = client["bench_big"]
    try:
        for start in range(0, documents, 500):
            batch = range(start, min(start + 500, documents))
            await db.docs.insert_many([{"_id": f"a{n}", "version": 0} for n in batch])
        latencies = []
        started = time.perf_counter()
        for n in range(updates):
            t0 = time.perf_counter()
            await db.docs.update_one(
                {"_id": f"a{(n * 7919) % documents}", "version": {"$gte": 0}},
                {"$inc": {"version": 1}},
            )
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        await client.drop_database(db.name)
        await client.close()
    q = statistics.quantiles(latencies, n=100)
    return {"rate": updates / elapsed, "p50_ms": q[49], "p99_ms": q[98]}


async def atomicity(url: str, trials: int) -> dict[str, Any]:
    """tests/integration/test_infrastructure.py's reservation test, `trials` times."""
    client: Client = AsyncMongoClient(url)
    granted_counts = []
    try:
        for trial in range(trials):
            rooms = client["bench_atomic"][f"rooms{trial}"]
            await rooms.insert_one({"_id": "recipient-1", "room_kg": 10_000})

            async def reserve(kg: int, rooms: Any = rooms) -> bool:
                updated = await rooms.find_one_and_update(
                    {"_id": "recipient-1", "room_kg": {"$gte": kg}},
                    {"$inc": {"room_kg": -kg}},
                    return_document=ReturnDocument.AFTER,
                )
                return updated is not None

            granted = sum(await asyncio.gather(*[reserve(3_000) for _ in range(10)]))
            left = await rooms.find_one({"_id": "recipient-1"})
            ok = granted == 3 and left == {"_id": "recipient-1", "room_kg": 1_000}
            granted_counts.append(granted if ok else -granted)
    finally:
        await client.drop_database("bench_atomic")
        await client.close()
    return {"granted": granted_counts, "passed": sum(g == 3 for g in granted_counts)}


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[bool, float, str]:
    started = time.perf_counter()
    try:
        await call()
    except PyMongoError as exc:
        return False, time.perf_counter() - started, type(exc).__name__
    return True, time.perf_counter() - started, ""


async def hang(url: str, statements: int = 100, timeout_s: float = 15) -> dict[str, Any]:
    """README's reproduction: one `update` of `statements` single-document statements."""
    client: Client = AsyncMongoClient(url, socketTimeoutMS=int(timeout_s * 1000))
    docs = client["bench_hang"]["docs"]
    try:
        await docs.insert_many([{"_id": f"k{n}", "v": 0} for n in range(statements)])
        answered, took, error = await _timed(
            lambda: docs.bulk_write(
                [UpdateOne({"_id": f"k{n}"}, {"$set": {"v": 1}}) for n in range(statements)]
            )
        )
        after_ok, after_took, after_error = await _timed(lambda: docs.insert_one({"_id": "after"}))
        updated = await docs.count_documents({"v": 1}) if after_ok else -1
    finally:
        await client.close()
    return {
        "answered": answered,
        "seconds": round(took, 3),
        "error": error,
        "then_write_ok": after_ok,
        "then_write_s": round(after_took, 3),
        "then_write_error": after_error,
        "updated": updated,
    }


async def isolation(url: str, cursors: int = 60, timeout_s: float = 10) -> dict[str, Any]:
    """Cursors left open on one database, then a write to another."""
    holder: Client = AsyncMongoClient(url, socketTimeoutMS=int(timeout_s * 1000))
    writer: Client = AsyncMongoClient(url, socketTimeoutMS=int(timeout_s * 1000))
    opened = 0
    try:
        db = holder["bench_held"]
        await db.docs.insert_many([{"_id": f"d{n}", "v": 0} for n in range(5)])
        open_cursors = []
        for _ in range(cursors):
            cursor = db.docs.find({}, batch_size=1)
            ok, _, _ = await _timed(cursor.next)
            if not ok:
                break
            open_cursors.append(cursor)
            opened += 1
        ok, took, error = await _timed(
            lambda: writer["bench_elsewhere"]["docs"].insert_one({"_id": "fine"})
        )
        for cursor in open_cursors:
            await _timed(cursor.close)
        await holder.close()
        # once the cursors are closed, the server works again
        recovered, _, _ = await _timed(
            lambda: writer["bench_elsewhere"]["docs"].insert_one({"_id": "later"})
        )
    finally:
        await holder.close()
        await writer.close()
    return {
        "cursors_opened": opened,
        "other_db_write_ok": ok,
        "other_db_write_s": round(took, 3),
        "error": error,
        "recovered": recovered,
    }


async def one_round(
    backend: str, folder: Path, bootstrap: str, args: argparse.Namespace
) -> dict[str, Any]:
    port = free_low_port()
    pg_port = free_low_port({port})
    result: dict[str, Any] = {"backend": backend}
    async with private_ferretdb(backend, folder, port=port, postgresql_port=pg_port) as store:
        await bench.platform.raw_mongo_updates(store.url, args.updates)
        result["raw"] = dict(_last_report)
        result["raw_big"] = await raw_big(store.url, args.big, args.big_updates)
        await bench.platform.platform_handler(bootstrap, store.url, args.events)
        result["platform"] = dict(_last_report)
        result["atomicity"] = await atomicity(store.url, args.trials)
        result["hang"] = await hang(store.url)
        result["isolation"] = await isolation(store.url)
    return result


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        mine = [r for r in results if r["backend"] == backend]
        if not mine:
            continue
        out[backend] = {
            "rounds": len(mine),
            **{
                f"{metric}_{field}": _spread([r[metric][field] for r in mine])
                for metric in ("raw", "raw_big", "platform")
                for field in ("rate", "p50_ms", "p99_ms")
            },
            "atomicity_passed": f"{sum(r['atomicity']['passed'] for r in mine)}"
            f"/{len(mine) * len(mine[0]['atomicity']['granted'])}",
            "hang_answered": f"{sum(r['hang']['answered'] for r in mine)}/{len(mine)}",
            "hang_s": _spread([r["hang"]["seconds"] for r in mine]),
            "hang_then_write_ok": f"{sum(r['hang']['then_write_ok'] for r in mine)}/{len(mine)}",
            "isolation_other_db_ok": (
                f"{sum(r['isolation']['other_db_write_ok'] for r in mine)}/{len(mine)}"
            ),
            "isolation_other_db_s": _spread([r["isolation"]["other_db_write_s"] for r in mine]),
            "isolation_cursors_opened": sorted({r["isolation"]["cursors_opened"] for r in mine}),
            "isolation_recovered": f"{sum(r['isolation']['recovered'] for r in mine)}/{len(mine)}",
        }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--big", type=int, default=5000, help="documents for raw_big")
    parser.add_argument("--big-updates", type=int, default=500)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", type=Path, help="also append each round's JSON line here")
    args = parser.parse_args()
    backends = args.backends.split(",")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refusals while Kafka boots
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="store-backends-") as tmp:
        kafka = PrivateKafka(await kafka_libs(cache_dir()), Path(tmp) / "kafka")
        await kafka.start()
        try:
            for n in range(args.rounds):
                order = backends if n % 2 == 0 else backends[::-1]
                for backend in order:
                    folder = Path(tmp) / f"{backend}-{n}"
                    result = {"round": n, **await one_round(backend, folder, kafka.bootstrap, args)}
                    results.append(result)
                    line = json.dumps(result)
                    print(line, flush=True)
                    if args.out is not None:
                        with args.out.open("a") as out:
                            out.write(line + "\n")
        finally:
            await kafka.stop()
    print(json.dumps(summary(results), indent=2))


if __name__ == "__main__":
    asyncio.run(main())
