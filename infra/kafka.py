"""Kafka admin helpers for the local infrastructure, the compose topics job, tests, benchmarks.

Each client signs in as `identity`, by default the environment's
(shared/_kit/kafka_client.py).
"""

import asyncio
import uuid
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from shared._kit.kafka_client import KafkaIdentity, client_options

DEFAULT_PARTITIONS = 6

_TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    identity: KafkaIdentity | None = None,
) -> list[str]:
    """Create the topics that do not exist yet (each with its `configs`, if any); return
    the names it created."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers, identity))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(topics) if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    partitions,
                    replication_factor,
                    topic_configs=dict((configs or {}).get(name, {})),
                )
                for name in missing
            ]
        )
        for name, code, message in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise for_code(code)(f"cannot create topic {name}: {message}")
        return missing
    finally:
        await admin.close()


async def set_topic_configs(
    bootstrap_servers: str,
    configs: Mapping[str, Mapping[str, str]],
    *,
    identity: KafkaIdentity | None = None,
) -> None:
    """Give existing topics their configuration. AlterConfigs sets a topic's whole dynamic
    configuration: what a topic has and `configs` does not name returns to the default."""
    wanted = {topic: dict(values) for topic, values in configs.items() if values}
    if not wanted:
        return
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers, identity))
    await admin.start()
    try:
        responses = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t, v) for t, v in wanted.items()]
        )
        for response in responses:
            for code, message, _kind, name in response.resources:
                if code != 0:
                    raise for_code(code)(f"cannot configure topic {name}: {message}")
    finally:
        await admin.close()


async def describe_topic_configs(
    bootstrap_servers: str, topics: Iterable[str], *, identity: KafkaIdentity | None = None
) -> dict[str, dict[str, str]]:
    """Each topic's configuration as the broker reports it (defaults included)."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers, identity))
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )
        found: dict[str, dict[str, str]] = {}
        for response in responses:
            for code, message, _kind, name, entries in response.resources:
                if code != 0:
                    raise for_code(code)(f"cannot describe topic {name}: {message}")
                found[name] = {entry[0]: entry[1] for entry in entries}
        return found
    finally:
        await admin.close()


async def partition_counts(
    bootstrap_servers: str, topics: Iterable[str], *, identity: KafkaIdentity | None = None
) -> dict[str, int]:
    """How many partitions each named topic has (0 when it does not exist)."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers, identity))
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


async def round_trip(
    bootstrap_servers: str,
    topic: str,
    *,
    timeout_s: float = 30.0,
    identity: KafkaIdentity | None = None,
) -> float:
    """Produce one message with acks=all and consume it back; return the seconds it took."""
    marker = uuid.uuid4().hex.encode()
    loop = asyncio.get_running_loop()
    started = loop.time()
    options = client_options(bootstrap_servers, identity)
    producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        topic,
        **options,
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
