"""Kafka admin helpers for the local infrastructure, the compose topics job, tests, benchmarks."""

import asyncio
import uuid
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

DEFAULT_PARTITIONS = 6

_TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(topics) if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name in missing]
        )
        for name, code, message in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise for_code(code)(f"cannot create topic {name}: {message}")
        return missing
    finally:
        await admin.close()


async def partition_counts(bootstrap_servers: str, topics: Iterable[str]) -> dict[str, int]:
    """How many partitions each named topic has (0 when it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


async def round_trip(bootstrap_servers: str, topic: str, *, timeout_s: float = 30.0) -> float:
    """Produce one message with acks=all and consume it back; return the seconds it took."""
    marker = uuid.uuid4().hex.encode()
    loop = asyncio.get_running_loop()
    started = loop.time()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(topic, marker, key=marker)
        async with asyncio.timeout(timeout_s):
            async for message in consumer:
                if message.value == marker:
                    return loop.time() - started
    finally:
        await consumer.stop()
        await producer.stop()
    raise RuntimeError(f"round trip on {topic}: consumer ended before the message came back")
