"""Effects exactly once through crashes, a database outage and rebalances.

Runs the ledger service (tests/platform/ledger.py) as processes on the real broker and
FerretDB: every entry must be applied once, and every event it emits reach Kafka.
"""

import asyncio
import random
import time
from collections import Counter

import pytest

from tests.platform.harness import Ledger, PrivateFerretDB, entry
from tests.processes import ServiceProcess
from tests.support import Infra

pytestmark = pytest.mark.integration


async def _assert_each_effect_once_and_published(ledger: Ledger, total: int) -> list[str]:
    """The invariants every test here ends with; returns the published event ids."""
    applied = await ledger.applied()
    assert len(applied) == total
    assert set(applied) == {f"e{n}" for n in range(total)}, "an effect is missing or doubled"
    assert all(doc["outbox"] == [] for doc in (await ledger.accounts()).values())
    published = await ledger.published(at_least=total)
    ids_by_entry: dict[str, set[str]] = {}
    for event in published:
        ids_by_entry.setdefault(event["data"]["entry_id"], set()).add(event["id"])
    assert set(ids_by_entry) == {f"e{n}" for n in range(total)}, "an event never reached Kafka"
    # a re-publication after a kill carries the id of the first: downstream inboxes drop it
    assert all(len(ids) == 1 for ids in ids_by_entry.values())
    return [event["id"] for event in published]


def _redelivered(processes: list[ServiceProcess]) -> list[dict[str, object]]:
    """Records handled again that had been stored before: found finished, changed nothing."""
    return [
        e
        for p in processes
        for e in p.events()
        if e["event"] == "event_received" and e["duplicate"]
    ]


async def test_sigkill_at_random_points_loses_nothing_and_duplicates_no_effect(
    ledger: Ledger,
) -> None:
    rng = random.Random(20261128)
    amounts: dict[int, int] = {}
    total = 0
    kills = 0
    processes: list[ServiceProcess] = []
    # Rounds of 2,000 entries, each processed by services killed at random points, until
    # a kill has landed between a record's store and its commit (a short window now that a
    # batch commits within milliseconds of its writes: one round of ~6 kills missed it
    # about once in ten runs). At most four rounds.
    for _ in range(4):
        first, total = total, total + 2000
        amounts |= {n: rng.randint(1, 500) for n in range(first, total)}
        await ledger.send([entry(n, f"acct-{n % 25}", amounts[n]) for n in range(first, total)])
        while len(await ledger.applied()) < total:
            service = ledger.process()
            processes.append(service)
            await service.start()
            await service.wait_ready()
            # let it run a random while, then kill it wherever it is
            target = min(total, len(await ledger.applied()) + rng.randint(50, 400))
            await ledger.wait_applied(target, timeout_s=60)
            if target == total:
                await service.stop()
                break
            await service.kill()
            kills += 1
        if _redelivered(processes):
            break
    final = ledger.process()
    await final.start()
    try:
        await final.wait_ready()
        await ledger.wait_drained(timeout_s=60)
    finally:
        await final.stop()

    ids = await _assert_each_effect_once_and_published(ledger, total)
    balance = sum(doc["state"]["balance"] for doc in (await ledger.accounts()).values())
    assert balance == sum(amounts.values())
    assert kills >= 3, "the test should have killed the service several times"
    redelivered = _redelivered([*processes, final])
    # a kill between a record's store and its commit: the record came again, changed nothing
    assert redelivered, "no kill landed between a store and its commit"
    print(
        f"kills={kills} redelivered={len(redelivered)} events_published={len(ids)} "
        f"distinct={len(set(ids))}"
    )


async def test_ferretdb_down_for_ten_seconds_loses_nothing_and_dead_letters_nothing(
    ledger: Ledger,
    private_ferretdb: PrivateFerretDB,
) -> None:
    total = 600
    ledger.infra = Infra(ledger.infra.kafka_bootstrap_servers, private_ferretdb.url, "private")
    commands = [entry(n, f"acct-{n % 10}", n) for n in range(total)]
    await ledger.send(commands[:300])
    # a short deadline per MongoDB call, so the outage shows as failures, not as a long wait
    service = ledger.process(LEDGER_MONGODB_TIMEOUT_S="2", LEDGER_BATCH_MAX_RECORDS="10")
    await service.start()
    try:
        await ledger.wait_applied(100, timeout_s=60)
        applied_before = len(await ledger.applied())
        await private_ferretdb.stop()
        outage_started = time.monotonic()
        # the rest comes during the outage, so the handlers meet it however fast they are
        await ledger.send(commands[300:])
        # the scenario itself: the database stays away for ten seconds
        await asyncio.sleep(10)
        await private_ferretdb.start()
        outage_s = time.monotonic() - outage_started
        await ledger.wait_applied(total)
        await ledger.wait_drained()
        assert await service.stop() == 0
    finally:
        await service.kill()

    await _assert_each_effect_once_and_published(ledger, total)
    logged = Counter(e["event"] for e in service.events())
    assert applied_before < total, "the outage began while commands were still coming"
    assert logged["transient_failure"] >= 1, "the outage reached the handlers and was retried"
    assert logged["dead_lettered"] == 0
    print(f"outage={outage_s:.1f}s transient_failures={logged['transient_failure']}")


async def test_two_replicas_with_rebalances_mid_run_apply_each_effect_once(
    ledger: Ledger,
) -> None:
    total = 1500
    commands = [entry(n, f"acct-{n % 30}", n) for n in range(total)]
    # small batches keep the first replica busy while the second joins; the commands come
    # in three waves (before the join, after it, after the kill), so each replica has work
    # whatever the speed of the machine
    first = ledger.process(LEDGER_BATCH_MAX_RECORDS="10")
    second = ledger.process(LEDGER_BATCH_MAX_RECORDS="10")
    await ledger.send(commands[:600])
    await first.start()
    try:
        await ledger.wait_applied(200, timeout_s=60)
        await second.start()  # joins the group: partitions are rebalanced mid-run
        await second.wait_ready()
        await ledger.send(commands[600:1200])
        await ledger.wait_applied(800)
        await first.kill()  # its partitions move to the survivor after the session timeout
        await ledger.send(commands[1200:])
        await ledger.wait_applied(total)
        await ledger.wait_drained()
        assert await second.stop() == 0
    finally:
        await first.kill()
        await second.kill()

    await _assert_each_effect_once_and_published(ledger, total)
    handled_by = [
        Counter(e["event"] for e in p.events())["event_received"] for p in (first, second)
    ]
    assert all(count > 0 for count in handled_by), handled_by
    print(f"handled_by={handled_by}")
