"""The shared delivery machinery, through a small service (tests/platform/ledger.py) run as a
real process against the real broker and FerretDB."""

import asyncio
import json
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from infra.artifacts import cache_dir, ferretdb_binary
from shared.envelope import CloudEvent, derive_id
from shared.kafka import ensure_topics
from shared.topics import dlq_topic
from tests.support import (
    Infra,
    ServiceProcess,
    command,
    consumer_lag,
    eventually,
    free_port,
    produce,
    read_topic,
)

pytestmark = pytest.mark.integration

LEDGER = "tests.platform.ledger"


@dataclass
class Ledger:
    infra: Infra
    name: str
    database: str

    @property
    def intake(self) -> str:
        return f"{self.name}.intake"

    @property
    def events(self) -> str:
        return f"{self.name}.events"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **self.infra.env(),
            "LEDGER_NAME": self.name,
            "LEDGER_MONGODB_DATABASE": self.database,
            "LEDGER_CONSUMER_GROUP": self.name,
            "LEDGER_OUTBOX_RELAY_INTERVAL_S": "0.5",
            "LEDGER_OUTBOX_RELAY_GRACE_S": "1",
            "LEDGER_KAFKA_SESSION_TIMEOUT_MS": "6000",
            **extra,
        }

    def process(self, **extra: str) -> ServiceProcess:
        return ServiceProcess("ledger", self.env(**extra), module=LEDGER)

    async def accounts(self) -> dict[str, dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongodb_url)
        try:
            return {doc["_id"]: doc async for doc in client[self.database]["accounts"].find()}
        finally:
            await client.close()

    async def entries_applied(self) -> int:
        return sum(len(doc["state"]["entries"]) for doc in (await self.accounts()).values())


@pytest.fixture
async def ledger(infra: Infra, unique_id: Callable[[str], str]) -> AsyncIterator[Ledger]:
    name = unique_id("ledger")
    topics = [f"{name}.intake", f"{name}.events"]
    await ensure_topics(infra.kafka_bootstrap_servers, [*topics, *map(dlq_topic, topics)])
    found = Ledger(infra=infra, name=name, database=name.replace("-", "_"))
    yield found
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    await client.drop_database(found.database)
    await client.close()


def entry(n: int, account: str, amount: int, **extra: object) -> CloudEvent:
    return command(
        "ledger.record_entry",
        account,
        {"entry_id": f"e{n}", "account": account, "amount": amount, **extra},
        command_id=f"cmd-{n}",
    )


async def test_bad_input_is_dead_lettered_or_rejected_and_good_input_all_processed(
    ledger: Ledger,
) -> None:
    good = [entry(n, f"acct-{n % 7}", n) for n in range(1000)]
    bad: list[tuple[str, bytes]] = [
        ("not_a_cloudevent", b"\x00\xffnot json at all"),
        ("not_a_cloudevent", json.dumps({"hello": "world"}).encode()),
        ("invalid_data", entry(5000, "acct-x", -3).to_bytes()),
        ("unknown_command_type", command("ledger.close_account", "acct-1", {}).to_bytes()),
        ("amount_too_large", entry(5001, "acct-x", 2_000_000).to_bytes()),
        ("handler_failed", entry(5002, "acct-x", 1, behaviour="always_fails").to_bytes()),
    ]
    messages: list[tuple[bytes | None, bytes]] = [(e.key, e.to_bytes()) for e in good]
    for i, (_reason, raw) in enumerate(bad):
        messages.insert(150 * (i + 1), (b"acct-x", raw))
    await produce(ledger.infra.kafka_bootstrap_servers, ledger.intake, messages)

    service = ledger.process(LEDGER_HANDLER_MAX_ATTEMPTS="3")
    await service.start()
    try:
        await eventually(
            lambda: _equals(ledger.entries_applied(), 1000),
            timeout_s=120,
            what="1000 good entries applied",
        )
        await eventually(
            lambda: _equals(
                consumer_lag(ledger.infra.kafka_bootstrap_servers, ledger.name, ledger.intake), 0
            ),
            timeout_s=30,
            what="consumer lag back to zero",
        )
    finally:
        await service.stop()

    dlq = await read_topic(
        ledger.infra.kafka_bootstrap_servers, dlq_topic(ledger.intake), until=lambda r: len(r) >= 3
    )
    events = await read_topic(
        ledger.infra.kafka_bootstrap_servers,
        ledger.events,
        until=lambda r: len({m.key for m in r}) >= 0 and len(r) >= 1003,
    )
    by_type = Counter(json.loads(m.value)["type"] for m in events)
    rejections = [
        json.loads(m.value)["data"]
        for m in events
        if json.loads(m.value)["type"] == f"{ledger.name}.command_rejected"
    ]

    assert sorted((dict(m.headers)["x-dlq-reason"].decode(), m.value) for m in dlq) == sorted(
        (reason, raw) for reason, raw in bad if reason in ("not_a_cloudevent", "handler_failed")
    )
    for message in dlq:
        headers = dict(message.headers)
        assert headers["x-dlq-original-topic"] == ledger.intake.encode()
        assert int(headers["x-dlq-original-offset"]) >= 0
        assert headers["x-dlq-error"]
    assert sorted(r["reason"] for r in rejections) == [
        "amount_too_large",
        "invalid_data",
        "unknown_command_type",
    ]
    invalid = next(r for r in rejections if r["reason"] == "invalid_data")
    assert invalid["command_id"] == "cmd-5000"
    assert invalid["errors"] == ["amount: Input should be greater than or equal to 0"]
    assert by_type["ledger.entry_recorded"] == 1000
    accounts = await ledger.accounts()
    assert sum(doc["state"]["balance"] for doc in accounts.values()) == sum(range(1000))
    assert "acct-x" not in accounts, "a bad command changed state"
    logged = Counter(e["event"] for e in service.events())
    assert logged["event_received"] == 1000
    assert logged["dead_lettered"] == 3
    assert logged["command_rejected"] == 3


async def _equals(value: "Any", expected: object) -> bool:
    return bool(await value == expected)


async def test_sigkill_at_random_points_loses_nothing_and_duplicates_no_effect(
    ledger: Ledger,
) -> None:
    total = 2000
    rng = random.Random(20261128)
    amounts = {n: rng.randint(1, 500) for n in range(total)}
    commands = [entry(n, f"acct-{n % 25}", amounts[n]) for n in range(total)]
    await produce(
        ledger.infra.kafka_bootstrap_servers,
        ledger.intake,
        [(c.key, c.to_bytes()) for c in commands],
    )

    kills = 0
    while await ledger.entries_applied() < total:
        service = ledger.process()
        await service.start()
        await service.wait_ready()
        # let it run a random while, then kill it wherever it is
        before = await ledger.entries_applied()
        await eventually(
            _progress(ledger, before + rng.randint(50, 400), total),
            timeout_s=60,
            what="progress before the kill",
        )
        if await ledger.entries_applied() >= total:
            await service.stop()
            break
        await service.kill()
        kills += 1
    final = ledger.process()
    await final.start()
    await final.wait_ready()
    try:
        await eventually(
            lambda: _equals(
                consumer_lag(ledger.infra.kafka_bootstrap_servers, ledger.name, ledger.intake), 0
            ),
            timeout_s=60,
            what="lag zero",
        )
        events = await read_topic(
            ledger.infra.kafka_bootstrap_servers,
            ledger.events,
            until=lambda r: (
                len({m.key + b"/" + json.loads(m.value)["id"].encode() for m in r if m.key})
                >= total
            ),
            timeout_s=60,
        )
    finally:
        await final.stop()

    accounts = await ledger.accounts()
    applied = [e for doc in accounts.values() for e in doc["state"]["entries"]]
    assert kills >= 3, "the test should have killed the service several times"
    assert len(applied) == total
    assert len(set(applied)) == total, "an effect was applied twice"
    assert sum(doc["state"]["balance"] for doc in accounts.values()) == sum(amounts.values())
    assert all(doc["outbox"] == [] for doc in accounts.values())
    ids = [json.loads(m.value)["id"] for m in events]
    assert set(ids) == {derive_id(c.id, "recorded") for c in commands}
    print(f"kills={kills} events_published={len(ids)} distinct={len(set(ids))}")


def _progress(ledger: Ledger, target: int, total: int) -> "Callable[[], Any]":
    async def check() -> bool:
        return await ledger.entries_applied() >= min(target, total)

    return check


async def test_metrics_stats_and_a_clean_sigterm(ledger: Ledger) -> None:
    await produce(
        ledger.infra.kafka_bootstrap_servers,
        ledger.intake,
        [(c.key, c.to_bytes()) for c in (entry(n, f"acct-{n % 2}", 1) for n in range(50))],
    )
    service = ledger.process()
    await service.start()
    await eventually(lambda: _equals(ledger.entries_applied(), 50), timeout_s=60, what="50")
    await service.wait_ready()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
        metrics = (await http.get("/metrics")).text
        stats = (await http.get("/stats")).json()

    assert await service.stop(signal.SIGTERM) == 0
    assert (
        f'station_events_received_total{{service="{ledger.name}",type="ledger.record_entry"}} 50.0'
    ) in metrics
    assert (
        f'station_events_emitted_total{{service="{ledger.name}",type="ledger.entry_recorded"}} 50.0'
    ) in metrics
    assert "faststream_received_messages_total" in metrics
    assert f'station_outbox_backlog{{service="{ledger.name}"}} 0.0' in metrics
    assert stats == {"service": ledger.name, "accounts": 2}
    received = [e for e in service.events() if e["event"] == "event_received"]
    assert len(received) == 50
    assert set(received[0]) >= {
        "service",
        "event_id",
        "event_type",
        "subject",
        "correlation_id",
        "causation_id",
        "latency_ms",
    }


@pytest.fixture
async def private_ferretdb(tmp_path: Path) -> AsyncIterator["PrivateFerretDB"]:
    """A FerretDB of this test's own, so stopping it disturbs no other test."""
    binary = await ferretdb_binary(cache_dir())
    server = PrivateFerretDB(binary, tmp_path / "ferretdb", free_port())
    await server.start()
    yield server
    await server.stop()


class PrivateFerretDB:
    def __init__(self, binary: Path, data: Path, port: int) -> None:
        self.binary, self.data, self.port = binary, data, port
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary),
            "-listen",
            f"127.0.0.1:{self.port}",
            "-data",
            str(self.data),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

        async def answers() -> bool:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                self.url, serverSelectionTimeoutMS=500
            )
            try:
                await client.admin.command("ping")
            except PyMongoError:
                return False
            finally:
                await client.close()
            return True

        await eventually(answers, timeout_s=30, what="private FerretDB answers")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


async def test_ferretdb_down_for_ten_seconds_loses_nothing_and_dead_letters_nothing(
    ledger: Ledger,
    private_ferretdb: PrivateFerretDB,
) -> None:
    total = 600
    ledger.infra = Infra(ledger.infra.kafka_bootstrap_servers, private_ferretdb.url, "private")
    commands = [entry(n, f"acct-{n % 10}", n) for n in range(total)]
    await produce(
        ledger.infra.kafka_bootstrap_servers,
        ledger.intake,
        [(c.key, c.to_bytes()) for c in commands],
    )
    service = ledger.process()
    await service.start()
    try:
        await eventually(_progress(ledger, 100, total), timeout_s=60, what="100 applied")
        await private_ferretdb.stop()
        outage_started = time.monotonic()
        # the scenario itself: the database stays away for ten seconds
        await asyncio.sleep(10)
        await private_ferretdb.start()
        outage_s = time.monotonic() - outage_started
        await eventually(_progress(ledger, total, total), timeout_s=120, what="all applied")
        await eventually(
            lambda: _equals(
                consumer_lag(ledger.infra.kafka_bootstrap_servers, ledger.name, ledger.intake), 0
            ),
            timeout_s=30,
            what="lag zero",
        )
        assert await service.stop() == 0
    finally:
        await service.kill()

    accounts = await ledger.accounts()
    applied = [e for doc in accounts.values() for e in doc["state"]["entries"]]
    assert sorted(applied) == sorted(f"e{n}" for n in range(total))
    logged = Counter(e["event"] for e in service.events())
    assert logged["dead_lettered"] == 0
    assert logged["event_received"] >= total - 100
    events = await read_topic(
        ledger.infra.kafka_bootstrap_servers,
        ledger.events,
        until=lambda r: len({m.value for m in r}) >= total,
        timeout_s=60,
    )
    assert {json.loads(m.value)["id"] for m in events} == {
        derive_id(c.id, "recorded") for c in commands
    }
    print(f"outage={outage_s:.1f}s transient_failures={logged['transient_failure']}")


async def test_two_replicas_with_rebalances_mid_run_apply_each_effect_once(
    ledger: Ledger,
) -> None:
    total = 1500
    commands = [entry(n, f"acct-{n % 30}", n) for n in range(total)]
    await produce(
        ledger.infra.kafka_bootstrap_servers,
        ledger.intake,
        [(c.key, c.to_bytes()) for c in commands],
    )
    first, second = ledger.process(), ledger.process()
    await first.start()
    try:
        await eventually(_progress(ledger, 200, total), timeout_s=60, what="200 by one replica")
        await second.start()  # joins the group: partitions are rebalanced mid-run
        await second.wait_ready()
        await eventually(_progress(ledger, 800, total), timeout_s=120, what="800 applied")
        await first.kill()  # its partitions move to the survivor after the session timeout
        await eventually(_progress(ledger, total, total), timeout_s=120, what="all applied")
        await eventually(
            lambda: _equals(
                consumer_lag(ledger.infra.kafka_bootstrap_servers, ledger.name, ledger.intake), 0
            ),
            timeout_s=30,
            what="lag zero",
        )
        assert await second.stop() == 0
    finally:
        await first.kill()
        await second.kill()

    accounts = await ledger.accounts()
    applied = [e for doc in accounts.values() for e in doc["state"]["entries"]]
    assert len(applied) == total
    assert set(applied) == {f"e{n}" for n in range(total)}
    handled_by = [
        Counter(e["event"] for e in p.events())["event_received"] for p in (first, second)
    ]
    assert all(count > 0 for count in handled_by), handled_by
    events = await read_topic(
        ledger.infra.kafka_bootstrap_servers,
        ledger.events,
        until=lambda r: len({m.value for m in r}) >= total,
        timeout_s=60,
    )
    assert {json.loads(m.value)["id"] for m in events} == {
        derive_id(c.id, "recorded") for c in commands
    }
    print(f"handled_by={handled_by}")


async def test_timers_fire_once_with_two_replicas(ledger: Ledger) -> None:
    count = 40
    reminders = [
        command(
            "ledger.schedule_reminder",
            f"acct-{n % 4}",
            {"reminder_id": f"r{n}", "account": f"acct-{n % 4}", "due_in_s": 2 + n % 3},
            command_id=f"remind-{n}",
        )
        for n in range(count)
    ]
    first = ledger.process(LEDGER_TIMER_INTERVAL_S="0.2")
    second = ledger.process(LEDGER_TIMER_INTERVAL_S="0.2")
    await first.start()
    await second.start()
    try:
        await first.wait_ready()
        await second.wait_ready()
        await produce(
            ledger.infra.kafka_bootstrap_servers,
            ledger.intake,
            [(c.key, c.to_bytes()) for c in reminders],
        )

        async def all_fired() -> bool:
            accounts = await ledger.accounts()
            return sum(len(d["state"].get("fired", [])) for d in accounts.values()) >= count

        await eventually(all_fired, timeout_s=60, what="every reminder fired")
        await first.stop()
        await second.stop()
    finally:
        await first.kill()
        await second.kill()

    fired_lines = [e for p in (first, second) for e in p.events() if e["event"] == "timer_fired"]
    owners = Counter(str(e["owner"]) for e in fired_lines)
    accounts = await ledger.accounts()
    fired = sorted(r for d in accounts.values() for r in d["state"].get("fired", []))
    assert fired == sorted(f"r{n}" for n in range(count))
    assert len(fired_lines) == count
    assert len({e["timer_id"] for e in fired_lines}) == count
    assert len(owners) == 2, f"both replicas should have fired some: {owners}"
    print(f"timer owners={dict(owners)}")
