"""Hostile records on the real broker and FerretDB: nothing stalls, only the owner speaks.

Runs the ledger service (tests/platform/ledger.py) as a process. A record the parser
refuses (a 5,000-digit number stalled a partition: Python's int limit raised ValueError,
the batch was nacked and rewound forever while /readyz said ready) lands in the DLQ with
its reason and the records after it are handled; a forged fact on an events topic lands
in the DLQ and does not shadow the real fact with the same id.
"""

import json
from collections import Counter
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from shared._kit.envelope import CloudEvent
from shared._kit.topics import dlq_topic
from tests.platform.harness import Ledger, entry
from tests.support import command, eventually, produce, read_topic

pytestmark = pytest.mark.integration


def _with_amount(event: CloudEvent, amount: str) -> bytes:
    """`event`'s bytes with its amount written as given (json.dumps cannot write these)."""
    raw = event.to_bytes()
    written = json.dumps(event.data["amount"] if event.data else None).encode()
    assert raw.count(b'"amount":' + written) == 1
    return raw.replace(b'"amount":' + written, b'"amount":' + amount.encode())


async def test_a_poison_record_mid_batch_is_dead_lettered_and_the_rest_is_handled(
    ledger: Ledger,
) -> None:
    good = [entry(n, f"acct-{n % 5}", n) for n in range(300)]
    poison = {
        "a number with more than 40 digits": _with_amount(entry(900, "acct-x", 1), "9" * 5000),
        "nested deeper than 32 levels": _with_amount(
            entry(901, "acct-x", 1), "[" * 10_000 + "]" * 10_000
        ),
        "NaN is not a JSON number": _with_amount(entry(902, "acct-x", 1), "NaN"),
    }
    messages: list[tuple[bytes | None, bytes]] = [(e.key, e.to_bytes()) for e in good]
    for i, raw in enumerate(poison.values()):  # one key: all in one partition, mid-stream
        messages.insert(100 * (i + 1), (b"acct-1", raw))
    # everything is there before the service starts: it reads big batches
    await produce(ledger.infra.kafka_bootstrap_servers, ledger.intake, messages)

    service = ledger.process()
    await service.start()
    try:
        await ledger.wait_applied(300)
        await ledger.wait_drained()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
            ready = await http.get("/readyz")
    finally:
        await service.stop()

    dlq = await read_topic(
        ledger.infra.kafka_bootstrap_servers, dlq_topic(ledger.intake), until=lambda r: len(r) >= 3
    )
    letters = [(dict(m.headers), m.value) for m in dlq]
    assert sorted(
        (h["x-dlq-reason"].decode(), h["x-dlq-error"].decode(), value) for h, value in letters
    ) == sorted(("not_a_cloudevent", why, raw) for why, raw in poison.items())
    accounts = await ledger.accounts()
    assert sum(doc["state"]["balance"] for doc in accounts.values()) == sum(range(300))
    assert sorted(await ledger.applied()) == sorted(f"e{n}" for n in range(300))
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    logged = Counter(e["event"] for e in service.events())
    assert logged["dead_lettered"] == 3
    assert logged["event_received"] == 300
    assert logged["batch_split"] == 0, "a poison record no longer splits its batch"


def _fact(event_id: str, account: str, entry_id: str, *, source: str, type_: str) -> CloudEvent:
    return CloudEvent(
        id=event_id,
        source=source,
        type=type_,
        subject=account,
        data={"entry_id": entry_id, "account": account, "amount": 1},
    )


async def _audited(ledger: Ledger, account: str) -> list[str]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ledger.infra.mongodb_url)
    try:
        doc = await client[ledger.database]["audits"].find_one({"_id": account})
    finally:
        await client.close()
    return [] if doc is None else list(doc["state"]["entries"])


async def test_a_forged_fact_is_dead_lettered_and_the_real_one_with_its_id_still_counts(
    ledger: Ledger,
) -> None:
    bootstrap = ledger.infra.kafka_bootstrap_servers
    owner = "/services/ledger"
    # the id the real fact will have, said first by someone else
    forged = _fact(
        "fact-7", "acct-a", "forged", source="/intake/mallory", type_="ledger.entry_recorded"
    )
    alien = _fact("fact-8", "acct-a", "alien", source=owner, type_="bank.entry_recorded")
    impostor = command(
        "ledger.record_entry", "acct-b", {"entry_id": "e-b", "account": "acct-b", "amount": 5}
    )
    impostor = impostor.model_copy(update={"source": owner})
    await produce(bootstrap, ledger.events, [(e.key, e.to_bytes()) for e in (forged, alien)])
    await produce(bootstrap, ledger.intake, [(impostor.key, impostor.to_bytes())])

    service = ledger.process(LEDGER_AUDIT="1")
    await service.start()
    try:
        dlq = await read_topic(bootstrap, dlq_topic(ledger.events), until=lambda r: len(r) >= 2)
        real = _fact("fact-7", "acct-a", "real", source=owner, type_="ledger.entry_recorded")
        await produce(bootstrap, ledger.events, [(real.key, real.to_bytes())])

        async def real_one_counted() -> bool:
            return await _audited(ledger, "acct-a") == ["real"]

        await eventually(real_one_counted, timeout_s=60, what="the real fact handled")
        await service.wait_ready()
    finally:
        await service.stop()

    reasons = {m.value: dict(m.headers)["x-dlq-reason"].decode() for m in dlq}
    assert reasons == {forged.to_bytes(): "foreign_source", alien.to_bytes(): "foreign_type"}
    events = await ledger.published(at_least=4)  # 3 written here, and the refusal
    [refusal] = [e["data"] for e in events if e["type"] == "ledger.command_rejected"]
    assert (refusal["command_id"], refusal["reason"]) == (impostor.id, "forged_source")
    assert "acct-b" not in await ledger.accounts()
