"""A process that dies mid-way: killed between its store and its commit, or mid-batch
after folded writes; its outbox left to the relay; its claimed timer left to another
replica. Every effect once (real Kafka and FerretDB, the ledger service as a process)."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.platform.harness import Ledger, entry
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_a_kill_between_store_and_commit_is_redelivered_without_a_second_effect(
    ledger: Ledger, tmp_path: Path
) -> None:
    marker = tmp_path / "crashed"
    await ledger.send(
        [
            entry(0, "acct-1", 7, behaviour="crash_after_store"),
            *(entry(n, "acct-1", 1) for n in range(1, 5)),
        ]
    )
    first = ledger.process(LEDGER_CRASH_MARKER=str(marker))
    await first.start()
    assert await first.wait_exit(60) == -9
    stored = (await ledger.accounts())["acct-1"]
    assert "e0" in stored["state"]["entries"]
    assert stored["outbox"], "killed after the store, before publishing"

    second = ledger.process(LEDGER_CRASH_MARKER=str(marker))
    await second.start()
    try:
        await ledger.wait_applied(5)
        await ledger.wait_drained()
    finally:
        await second.stop()

    assert sorted(await ledger.applied()) == [f"e{n}" for n in range(5)]
    assert (await ledger.accounts())["acct-1"]["state"]["balance"] == 11
    redelivered = [
        e for e in second.events() if e["event"] == "event_received" and e["event_id"] == "cmd-0"
    ]
    assert [e["duplicate"] for e in redelivered] == [True]
    published = await ledger.published(at_least=5)
    assert len({e["id"] for e in published if e["data"]["entry_id"] == "e0"}) == 1


async def test_a_kill_mid_batch_after_folded_writes_leaves_every_effect_once(
    ledger: Ledger, tmp_path: Path
) -> None:
    """200 commands over 4 accounts, all waiting before the service starts, so they come in
    batches whose commands per account are folded into one write; the service dies after
    a batch's writes, before its events and its commit. Redelivered: every entry once."""
    marker = tmp_path / "crashed"
    total, accounts = 200, 4
    commands = [entry(n, f"acct-{n % accounts}", n + 1) for n in range(total)]
    commands[150] = entry(150, f"acct-{150 % accounts}", 151, behaviour="crash_after_store")
    await ledger.send(commands)
    first = ledger.process(LEDGER_CRASH_MARKER=str(marker))
    await first.start()
    assert await first.wait_exit(60) == -9
    stored = await ledger.accounts()
    assert "e150" in stored["acct-2"]["state"]["entries"], "the batch's writes were stored"
    assert stored["acct-2"]["outbox"], "killed before its events were published"

    second = ledger.process(LEDGER_CRASH_MARKER=str(marker))
    await second.start()
    try:
        await ledger.wait_applied(total)
        await ledger.wait_drained()
    finally:
        await second.stop()

    final = await ledger.accounts()
    for a in range(accounts):
        expected = [f"e{n}" for n in range(a, total, accounts)]
        assert sorted(final[f"acct-{a}"]["state"]["entries"]) == sorted(expected)
        assert final[f"acct-{a}"]["state"]["balance"] == sum(n + 1 for n in range(a, total, 4))
    versions = sum(final[f"acct-{a}"]["version"] for a in range(accounts))
    assert versions < total, f"{versions} writes for {total} commands: folded per account"
    published = await ledger.published(at_least=total)
    per_entry = Counter(e["data"]["entry_id"] for e in {e["id"]: e for e in published}.values())
    assert per_entry == Counter({f"e{n}": 1 for n in range(total)}), "one event id per entry"


async def test_the_relay_alone_publishes_what_a_crash_left_and_skips_a_corrupt_document(
    ledger: Ledger,
) -> None:
    from pymongo import AsyncMongoClient

    left = entry(0, "acct-ok", 5)
    recorded = {
        "specversion": "1.0",
        "id": "left-behind-1",
        "source": "/services/ledger",
        "type": "ledger.entry_recorded",
        "subject": "acct-ok",
        "data": {"entry_id": "e0", "account": "acct-ok", "amount": 5},
    }
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(ledger.infra.mongodb_url)
    try:
        accounts = client[ledger.database]["accounts"]
        for account, event in (("acct-bad", "{corrupt"), ("acct-ok", json.dumps(recorded))):
            await accounts.insert_one(
                {
                    "_id": account,
                    "version": 1,
                    "state": {"balance": 5, "entries": ["e0"]},
                    "inbox": [],
                    "outbox": [{"id": "left-behind-1", "cause": left.id, "event": event}],
                    "outbox_since": left.time,
                }
            )
    finally:
        await client.close()
    service = ledger.process()
    await service.start()
    try:
        events = await ledger.published(at_least=1)

        async def skipped() -> bool:
            return any(e["event"] == "outbox_relay_skipped" for e in service.events())

        await eventually(skipped, timeout_s=30, what="the corrupt document reported")
    finally:
        await service.stop()

    assert [e["id"] for e in events] == ["left-behind-1"]
    docs = await ledger.accounts()
    assert docs["acct-ok"]["outbox"] == []
    assert docs["acct-bad"]["outbox"] != [], "left for an operator, not dropped"


async def test_a_timer_claimed_by_a_replica_that_died_is_fired_once_by_another(
    ledger: Ledger,
) -> None:
    fast = {"LEDGER_TIMER_INTERVAL_S": "0.2", "LEDGER_TIMER_LEASE_S": "2"}
    dying = ledger.process(LEDGER_SLOW_REMINDERS="1", **fast)
    await dying.start()
    await dying.wait_ready()
    await ledger.send(
        [
            entry(0, "acct-1", 1).model_copy(
                update={
                    "type": "ledger.schedule_reminder",
                    "data": {"reminder_id": "r1", "account": "acct-1", "due_in_s": 0, "slow_s": 60},
                }
            )
        ]
    )
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(ledger.infra.mongodb_url)
    timers = client[ledger.database]["timers"]

    async def claimed() -> bool:
        return await timers.count_documents({"state": "claimed"}) == 1

    await eventually(claimed, timeout_s=30, what="the first replica holds the timer")
    await dying.kill()
    survivor = ledger.process(**fast)
    await survivor.start()
    try:

        async def fired() -> bool:
            state = (await ledger.accounts()).get("acct-1", {}).get("state", {})
            return bool(state.get("fired"))

        await eventually(fired, timeout_s=60, what="the survivor fires the timer")
        await eventually(lambda: _none_left(timers), timeout_s=10, what="a fired timer is removed")
    finally:
        await survivor.stop()
        await client.close()

    assert (await ledger.accounts())["acct-1"]["state"]["fired"] == ["r1"]
    owners = {e["owner"] for e in survivor.events() if e["event"] == "timer_fired"}
    assert len(owners) == 1
    assert not [e for e in dying.events() if e["event"] == "timer_fired"]


async def _none_left(timers: Any) -> bool:
    return await timers.count_documents({}) == 0  # type: ignore[no-any-return]
