"""Records of any shape, duplicates long after, a stuck consumer: the holes a hostile
producer or a failing machine found, each closed (real Kafka and FerretDB, the ledger
service as a process)."""

import json
from collections import Counter
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
