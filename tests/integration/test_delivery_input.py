"""Bad input never blocks and is never lost; every message leaves one log line and metrics.

Runs the ledger service (tests/platform/ledger.py) as a process on the real broker and FerretDB.
"""

import json
import signal
from collections import Counter

import httpx
import pytest

from shared._kit.topics import dlq_topic
from tests.platform.harness import Ledger, entry
from tests.support import command, produce, read_topic, stats_showing

pytestmark = pytest.mark.integration


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
        await ledger.wait_applied(1000)
        await ledger.wait_drained()
    finally:
        await service.stop()

    dlq = await read_topic(
        ledger.infra.kafka_bootstrap_servers, dlq_topic(ledger.intake), until=lambda r: len(r) >= 3
    )
    events = await ledger.published(at_least=1003)
    rejections = [e["data"] for e in events if e["type"] == "ledger.command_rejected"]

    assert sorted((dict(m.headers)["x-dlq-reason"].decode(), m.value) for m in dlq) == sorted(
        (reason, raw) for reason, raw in bad if reason in ("not_a_cloudevent", "handler_failed")
    )
    sent = await read_topic(
        ledger.infra.kafka_bootstrap_servers, ledger.intake, until=lambda r: len(r) >= 1006
    )
    originals = {(m.partition, m.offset): m for m in sent}
    for message in dlq:
        headers = dict(message.headers)
        assert headers["x-dlq-original-topic"] == ledger.intake.encode()
        assert headers["x-dlq-error"]
        where = (int(headers["x-dlq-original-partition"]), int(headers["x-dlq-original-offset"]))
        original = originals[where]
        assert (message.key, message.value) == (original.key, original.value)
        assert [h for h in message.headers if not h[0].startswith("x-dlq-")] == list(
            original.headers
        )
    assert sorted(r["reason"] for r in rejections) == [
        "amount_too_large",
        "invalid_data",
        "unknown_command_type",
    ]
    invalid = next(r for r in rejections if r["reason"] == "invalid_data")
    assert invalid["command_id"] == "cmd-5000"
    assert invalid["errors"] == ["amount: Input should be greater than or equal to 0"]
    # at least once on the wire, each with its one id (a redelivery republishes what it
    # answered, with the same ids): 1,000 distinct facts
    recorded = [e["id"] for e in events if e["type"] == "ledger.entry_recorded"]
    assert len(set(recorded)) == 1000
    accounts = await ledger.accounts()
    assert sum(doc["state"]["balance"] for doc in accounts.values()) == sum(range(1000))
    assert "acct-x" not in accounts, "a bad command changed state"
    lines = service.events()
    logged = Counter(e["event"] for e in lines)
    first_time = {e["event_id"] for e in lines if e["event"] == "event_received"}
    assert len(first_time) == 1000
    assert not [e for e in lines if e["event"] == "event_received" and not e["duplicate"]][1000:]
    assert logged["dead_lettered"] == 3
    assert len({e["event_id"] for e in lines if e["event"] == "command_rejected"}) == 3


async def test_metrics_stats_and_a_clean_sigterm(ledger: Ledger) -> None:
    await ledger.send([entry(n, f"acct-{n % 2}", 1) for n in range(50)])
    service = ledger.process()
    await service.start()
    await ledger.wait_applied(50, timeout_s=60)
    await service.wait_ready()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
        metrics = (await http.get("/metrics")).text
    stats = await stats_showing(service.port, accounts=2)  # figures follow the writes

    assert await service.stop(signal.SIGTERM) == 0
    assert (
        'station_events_received_total{service="ledger",type="ledger.record_entry"} 50.0'
    ) in metrics
    assert (
        'station_events_emitted_total{service="ledger",type="ledger.entry_recorded"} 50.0'
    ) in metrics
    assert "faststream_received_messages_total" in metrics
    assert 'station_outbox_backlog{service="ledger"} 0.0' in metrics
    assert stats.keys() == {"service", "accounts", "as_of"}
    assert stats["service"] == "ledger"
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
    assert not any(e["event"] == "Received" for e in service.events()), "FastStream echoes"
