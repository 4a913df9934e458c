"""The real broker and the real MongoDB-compatible server do what the services rely on."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from infra.kafka import DEFAULT_PARTITIONS, partition_counts
from infra.topics import contract_topics
from shared._kit.kafka_client import client_options
from tests.support import Infra

pytestmark = pytest.mark.integration


async def test_contract_topics_exist_with_six_partitions(infra: Infra) -> None:
    counts = await partition_counts(infra.kafka_bootstrap_servers, contract_topics())

    assert counts == dict.fromkeys(contract_topics(), DEFAULT_PARTITIONS)
    assert "enterprise.intake.dlq" in counts


async def test_produce_and_consume_through_the_broker_keeps_per_key_order(
    infra: Infra, fresh_topic: Callable[..., Awaitable[str]]
) -> None:
    topic = await fresh_topic("roundtrip")
    keys = [f"aggregate-{n}".encode() for n in range(10)]
    sent = [(key, f"{key.decode()}#{seq}".encode()) for seq in range(20) for key in keys]
    producer = AIOKafkaProducer(
        **client_options(infra.kafka_bootstrap_servers), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await asyncio.gather(*[producer.send_and_wait(topic, v, key=k) for k, v in sent])
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        **client_options(infra.kafka_bootstrap_servers),
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: dict[bytes, list[bytes]] = {}
    partitions_seen: set[int] = set()
    try:
        async with asyncio.timeout(30):
            while sum(len(v) for v in received.values()) < len(sent):
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, messages in batch.items():
                    partitions_seen.add(tp.partition)
                    for message in messages:
                        assert message.key is not None
                        assert message.value is not None
                        received.setdefault(message.key, []).append(message.value)
    finally:
        await consumer.stop()

    assert received == {key: [v for k, v in sent if k == key] for key in keys}
    assert len(partitions_seen) > 1, "keys should spread over several partitions"


async def test_unique_index_rejects_a_second_document_with_the_same_key(
    mongo_db: AsyncDatabase[dict[str, object]],
) -> None:
    cases = mongo_db["cases"]
    await cases.create_index("dispute_id", unique=True)
    await cases.insert_one({"dispute_id": "d-1", "state": "open", "version": 1})

    with pytest.raises(DuplicateKeyError):
        await cases.insert_one({"dispute_id": "d-1", "state": "open", "version": 1})

    stored = await cases.find_one({"dispute_id": "d-1"}, {"_id": 0})
    assert stored == {"dispute_id": "d-1", "state": "open", "version": 1}
    assert await cases.count_documents({}) == 1


async def test_commands_without_a_filter_are_answered(
    mongo_db: AsyncDatabase[dict[str, object]],
) -> None:
    # the local FerretDB's `_id` pushdown once looked into a filter that `count` without
    # a query does not send, and the server dropped the connection instead of answering
    docs = mongo_db["docs"]
    await docs.insert_many([{"_id": "a", "n": 1}, {"_id": "b", "n": 2}, {"_id": "c", "n": 2}])

    assert (await mongo_db.command("count", "docs"))["n"] == 3
    assert (await mongo_db.command("count", "docs", query={"n": 2}))["n"] == 2
    assert (await mongo_db.command("count", "docs", query={"_id": "b", "n": 2}))["n"] == 1
    assert (await mongo_db.command("count", "docs", query={"_id": {"$in": ["a", "c"]}}))["n"] == 2
    assert await docs.estimated_document_count() == 3
    assert [d["_id"] async for d in docs.find().sort("_id", 1)] == ["a", "b", "c"]
    assert (await mongo_db.command("explain", {"find": "docs"}))["ok"] == 1


async def test_conditional_update_applies_once_under_concurrency(
    mongo_db: AsyncDatabase[dict[str, object]],
) -> None:
    """What every reservation relies on: a guarded find_one_and_update is atomic."""
    rooms = mongo_db["rooms"]
    await rooms.insert_one({"_id": "recipient-1", "room_kg": 10_000})

    async def reserve(kg: int) -> bool:
        updated = await rooms.find_one_and_update(
            {"_id": "recipient-1", "room_kg": {"$gte": kg}},
            {"$inc": {"room_kg": -kg}},
            return_document=ReturnDocument.AFTER,
        )
        return updated is not None

    granted = await asyncio.gather(*[reserve(3_000) for _ in range(10)])

    assert sum(granted) == 3
    assert await rooms.find_one({"_id": "recipient-1"}) == {"_id": "recipient-1", "room_kg": 1_000}
