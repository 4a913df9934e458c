"""Records of any shape, duplicates long after, a stuck consumer: the holes a hostile
producer or a failing machine found, each closed (real Kafka and FerretDB, the ledger
service as a process)."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared._kit.topics import dlq_topic
from tests.platform.harness import Ledger, entry
from tests.support import Raw, eventually, produce_raw, read_topic

pytestmark = pytest.mark.integration

# the broker takes records up to ~1 MiB; this one fits, its DLQ copy with headers does not
OVERSIZED = 1_048_576 - 200


def _by_offset(records: list[Any]) -> dict[tuple[int, int], Any]:
    return {(r.partition, r.offset): r for r in records}


async def test_records_of_any_shape_end_in_the_dlq_and_the_partition_goes_on(
    ledger: Ledger,
) -> None:
    bootstrap = ledger.infra.kafka_bootstrap_servers
    valid = [entry(n, "acct-1", n) for n in range(10)]
    hostile = [
        Raw(valid[0].to_bytes(), b"acct-1", (("trace-bin", b"\xff\x00\xfe"),), partition=0),
        Raw(None, None, partition=0),  # a tombstone: neither key nor value
        Raw(b"x" * OVERSIZED, b"acct-1", partition=0),
        Raw(b"{not json", b"acct-1", (("content-type", b"application/json"),), partition=0),
        Raw(b"\xff\xfe", b"acct-1", (("content-type", b"text/plain"),), partition=0),
        *(Raw(c.to_bytes(), b"acct-1", partition=0) for c in valid[1:]),
    ]
    await produce_raw(bootstrap, ledger.intake, hostile)
    sent = await read_topic(bootstrap, ledger.intake, until=lambda r: len(r) >= len(hostile))

    service = ledger.process()
    await service.start()
    try:
        await ledger.wait_applied(10)
        await ledger.wait_drained()
    finally:
        await service.stop()

    dlq = await read_topic(bootstrap, dlq_topic(ledger.intake), until=lambda r: len(r) >= 4)
    originals = _by_offset(list(sent))
    copies = {
        (
            int(dict(m.headers)["x-dlq-original-partition"]),
            int(dict(m.headers)["x-dlq-original-offset"]),
        ): m
        for m in dlq
    }
    tombstone, oversized, lying_json, lying_text = sorted(copies)
    assert all(originals[c].value in (None, *(h.value for h in hostile)) for c in copies)
    assert copies[tombstone].value == b""
    assert dict(copies[tombstone].headers)["x-dlq-original-value"] == b"null"
    assert copies[oversized].value == b""
    assert dict(copies[oversized].headers)["x-dlq-omitted"].startswith(
        b"value and headers left out"
    )
    for coordinates in (lying_json, lying_text):
        copy, original = copies[coordinates], originals[coordinates]
        assert copy.value == original.value
        assert copy.key == b"acct-1"
        assert dict(copy.headers)["content-type"] == dict(original.headers)["content-type"]
        assert dict(copy.headers)["x-dlq-reason"] == b"not_a_cloudevent"
        assert dict(copy.headers)["x-dlq-original-topic"] == ledger.intake.encode()
    assert sorted(await ledger.applied()) == sorted(f"e{n}" for n in range(10))
    logged = Counter(e["event"] for e in service.events())
    assert logged["dead_lettered"] == 4


async def test_a_consumer_stuck_on_one_record_shows_in_readyz_and_metrics(ledger: Ledger) -> None:
    slow = entry(0, "acct-1", 1, behaviour="slow", slow_s=8)
    await ledger.send([slow, entry(1, "acct-1", 1)])
    service = ledger.process(LEDGER_STUCK_AFTER_S="1")
    await service.start()
    seen: dict[str, object] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:

            async def stuck() -> bool:
                rsp = await http.get("/readyz")
                seen.update(rsp.json())
                return rsp.status_code == 503 and "stuck" in seen

            await eventually(stuck, timeout_s=30, what="/readyz names the stuck record")
            metrics = (await http.get("/metrics")).text
            await ledger.wait_applied(2)

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await eventually(ready, timeout_s=30, what="ready again once the record is done")
    finally:
        await service.stop()

    stuck_list: list[dict[str, Any]] = seen["stuck"]  # type: ignore[assignment]
    [record] = stuck_list
    assert record["topic"] == ledger.intake
    assert record["offset"] == 0
    assert record["seconds"] >= 1
    busy = [
        line
        for line in metrics.splitlines()
        if line.startswith("station_consumer_busy_seconds{") and ledger.intake in line
    ]
    assert busy
    assert float(busy[0].rsplit(" ", 1)[1]) > 1


async def test_made_up_types_share_one_metric_label(ledger: Ledger) -> None:
    made_up = [entry(n, "acct-1", 1).model_copy(update={"type": f"ledger.x{n}"}) for n in range(30)]
    await ledger.send(made_up)
    service = ledger.process()
    await service.start()
    try:
        await ledger.wait_drained()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
            metrics = (await http.get("/metrics")).text
    finally:
        await service.stop()

    assert 'station_commands_rejected_total{service="ledger",type="unknown"} 30.0' in metrics
    assert "ledger.x1" not in metrics


async def test_a_command_re_sent_after_250_newer_ones_has_no_second_effect(ledger: Ledger) -> None:
    purchase = entry(9000, "acct-1", 10)
    same_id_other_sender = purchase.model_copy(update={"source": "/intake/another-system"})
    refused = entry(9001, "acct-1", 2_000_000)
    await ledger.send([purchase, refused, *(entry(n, "acct-1", 1) for n in range(250))])
    await ledger.send([purchase, refused, same_id_other_sender])
    service = ledger.process()
    await service.start()
    try:
        await ledger.wait_applied(252)
        await ledger.wait_drained()
    finally:
        await service.stop()

    accounts = await ledger.accounts()
    entries = accounts["acct-1"]["state"]["entries"]
    assert Counter(entries)["e9000"] == 2, "once per sender: source and id together"
    assert accounts["acct-1"]["state"]["balance"] == 10 + 250 + 10
    assert len(accounts["acct-1"]["inbox"]) <= 400
    # 252 entries recorded and one refusal: re-sent, it is refused again with the same
    # event (published again, or once if both arrived in one batch)
    records = await read_topic(
        ledger.infra.kafka_bootstrap_servers,
        ledger.events,
        until=lambda r: len({m.value for m in r}) >= 253,
    )
    events = [json.loads(r.value) for r in records]
    rejections = [e for e in events if e["type"] == "ledger.command_rejected"]
    assert {e["id"] for e in rejections} == {rejections[0]["id"]}
    assert {e["data"]["command_id"] for e in rejections} == {refused.id}
    assert "e9001" not in entries


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
