"""The broker stops for 15 s under load and comes back on the same data: a running service
carries on by itself, each effect applied once and every event published.

The broker is a private one (tests/platform/private_kafka.py) on ports below Linux's
ephemeral range, so stopping it disturbs no other test and no client reconnecting in
the meantime can take its port; the ledger's database is on the shared server.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infra.artifacts import cache_dir, kafka_libs
from infra.kafka import ensure_topics
from shared._kit.topics import dlq_topic
from tests.platform.harness import Ledger, entry
from tests.platform.private_kafka import PrivateKafka
from tests.support import Infra, eventually

pytestmark = pytest.mark.integration

OUTAGE_S = 15.0


@pytest.fixture
async def private_kafka(infra: Infra, tmp_path: Path) -> AsyncIterator[PrivateKafka]:
    broker = PrivateKafka(await kafka_libs(cache_dir()), tmp_path / "kafka", infra.kafka_users)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def ledger_on_private_kafka(
    infra: Infra, private_kafka: PrivateKafka, unique_id: Callable[[str], str]
) -> AsyncIterator[Ledger]:
    name = unique_id("ledger")
    found = Ledger(
        infra=Infra(private_kafka.bootstrap, infra.mongodb_url, "private"),
        name=name,
        database=name.replace("-", "_"),
    )
    topics = [found.intake, found.events]
    await ensure_topics(private_kafka.bootstrap, [*topics, *map(dlq_topic, topics)])
    yield found
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    await client.drop_database(found.database)
    await client.close()


async def test_broker_down_for_fifteen_seconds_under_load_loses_and_doubles_nothing(
    private_kafka: PrivateKafka, ledger_on_private_kafka: Ledger
) -> None:
    ledger = ledger_on_private_kafka
    first, total = 400, 500
    await ledger.send([entry(n, f"acct-{n % 20}", n) for n in range(first)])
    service = ledger.process()
    await service.start()
    try:
        await service.wait_ready()
        assert service.proc is not None
        pid = service.proc.pid
        await ledger.wait_applied(100, timeout_s=60)
        stopping = time.monotonic()
        await private_kafka.stop()
        stopped = time.monotonic()
        applied_at_stop = len(await ledger.applied())
        # the scenario itself: the broker stays away for fifteen seconds
        await asyncio.sleep(OUTAGE_S)
        starting = time.monotonic()
        await private_kafka.start()
        back = time.monotonic()
        await ledger.wait_applied(first, timeout_s=120)
        caught_up = time.monotonic()
        # new commands after the restart are processed by the same process
        await ledger.send([entry(n, f"acct-{n % 20}", n) for n in range(first, total)])
        await ledger.wait_applied(total, timeout_s=60)
        await ledger.wait_drained(timeout_s=60)
        assert service.proc.returncode is None, "the service exited during the outage"
        assert service.proc.pid == pid
        assert await service.stop() == 0
    finally:
        await service.kill()

    applied = await ledger.applied()
    assert len(applied) == total
    assert set(applied) == {f"e{n}" for n in range(total)}, "an effect is missing or doubled"
    assert all(doc["outbox"] == [] for doc in (await ledger.accounts()).values())
    published = await ledger.published(at_least=total)
    ids_by_entry: dict[str, set[str]] = {}
    for event in published:
        ids_by_entry.setdefault(event["data"]["entry_id"], set()).add(event["id"])
    assert set(ids_by_entry) == {f"e{n}" for n in range(total)}, "an event never reached Kafka"
    assert all(len(ids) == 1 for ids in ids_by_entry.values())
    print(
        f"applied_at_stop={applied_at_stop}/{first} shutdown={stopped - stopping:.1f}s "
        f"outage={back - stopping:.1f}s restart={back - starting:.1f}s "
        f"caught_up_after={caught_up - back:.1f}s published={len(published)} "
        f"distinct={len({e['id'] for e in published})}"
    )


async def test_timers_due_while_the_broker_is_away_fire_once_it_is_back(
    private_kafka: PrivateKafka, ledger_on_private_kafka: Ledger
) -> None:
    """Outages are waited out, however many claims they cost: only a handler that keeps
    failing ends a timer (issue 8, point 12). Two attempts at most, and a 15 s outage."""
    ledger = ledger_on_private_kafka
    reminders = [
        entry(n, f"acct-{n % 3}", 0).model_copy(
            update={
                "id": f"remind-{n}",
                "type": "ledger.schedule_reminder",
                "data": {"reminder_id": f"r{n}", "account": f"acct-{n % 3}", "due_in_s": 3},
            }
        )
        for n in range(6)
    ]
    service = ledger.process(
        LEDGER_HANDLER_MAX_ATTEMPTS="2", LEDGER_TIMER_INTERVAL_S="0.2", LEDGER_MONGODB_TIMEOUT_S="2"
    )
    await service.start()
    try:
        await service.wait_ready()
        await ledger.send(reminders)

        async def scheduled() -> bool:
            docs = (await ledger.accounts()).values()
            return sum(len(d["state"].get("reminders", [])) for d in docs) == 6

        await eventually(scheduled, timeout_s=60, what="six reminders scheduled")
        await private_kafka.stop()  # they fall due during the outage
        await asyncio.sleep(OUTAGE_S)
        restarting = datetime.now(UTC)
        await private_kafka.start()

        async def fired() -> bool:
            docs = (await ledger.accounts()).values()
            return sum(len(d["state"].get("fired", [])) for d in docs) == 6

        await eventually(fired, timeout_s=120, what="every reminder fired")
        published = await ledger.published(at_least=6)
        assert await service.stop() == 0
    finally:
        await service.kill()

    events = {e["event"] for e in service.events()}
    fired_ids = sorted(r for d in (await ledger.accounts()).values() for r in d["state"]["fired"])
    assert fired_ids == [f"r{n}" for n in range(6)]
    assert "timer_failed" not in events
    fired_at = [
        datetime.fromisoformat(str(e["timestamp"]))
        for e in service.events()
        if e["event"] == "timer_fired"
    ]
    assert len(fired_at) == 6
    assert min(fired_at) > restarting, "due during the outage, fired once the broker was back"
    assert {
        e["data"]["reminder_id"] for e in published if e["type"] == "ledger.reminder_fired"
    } == {f"r{n}" for n in range(6)}
