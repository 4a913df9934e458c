"""Helpers for tests against the real broker and server: where they are, commands and
records in and out of topics, conditions awaited, and a service's /stats."""

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition

from infra.credentials import ADMIN, Credentials
from shared._kit.envelope import CloudEvent, kafka_headers
from shared._kit.kafka_client import PROPERTIES_VARIABLE, client_options

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    mongodb_url: str
    source: str
    # the local broker's users (infra/credentials.py): the harness signs in as admin; None
    # where the broker has no authentication (testcontainers)
    kafka_users: Credentials | None = None

    def env(self) -> dict[str, str]:
        """The environment of a process that uses this infrastructure as the harness does
        (as admin where the broker has users)."""
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "MONGODB_URL": self.mongodb_url,
        }
        if self.kafka_users is not None:
            env[PROPERTIES_VARIABLE] = str(self.kafka_users.properties(ADMIN))
        return env

    def env_as(self, user: str) -> dict[str, str]:
        """The same, signed in as one of the broker's users (a service, the operators)."""
        if self.kafka_users is None:
            raise AssertionError(f"{self.source}: the broker has no users, so none is {user}")
        return {**self.env(), PROPERTIES_VARIABLE: str(self.kafka_users.properties(user))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(
    command_type: str, subject: str, data: dict[str, object], *, command_id: str | None = None
) -> "CloudEvent":
    """A command as an outside sender (the CLI, a test) puts it on an intake topic."""
    return CloudEvent(
        id=command_id or uuid.uuid4().hex,
        source="/intake/tests",
        type=command_type,
        subject=subject,
        time=datetime.now(UTC),
        data=data,
    )


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    """Send (key, value) pairs in order with acks=all."""
    producer = AIOKafkaProducer(**client_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=kafka_headers())
            for key, value in messages
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Raw:
    """A record exactly as a (possibly hostile) producer sends it."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None


async def produce_raw(bootstrap: str, topic: str, records: list[Raw]) -> None:
    """Send records as they are, in order, with acks=all (no header added)."""
    producer = AIOKafkaProducer(
        **client_options(bootstrap), acks="all", enable_idempotence=True, max_request_size=2**21
    )
    await producer.start()
    try:
        for r in records:
            if r.value is None and r.key is None:
                # aiokafka's send refuses a tombstone without a key; other clients send them
                batch = producer.create_batch()
                batch.append(key=None, value=None, timestamp=None, headers=list(r.headers))
                batch.close()
                await (await producer.send_batch(batch, topic, partition=r.partition or 0))
                continue
            await producer.send_and_wait(
                topic, r.value, key=r.key, headers=list(r.headers), partition=r.partition
            )
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout_s: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic from the start, read until `until(records)` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(bootstrap),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while not until(records):
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    records.extend(messages)
    except TimeoutError:
        raise AssertionError(
            f"{topic}: condition not met in {timeout_s} s ({len(records)} records)"
        ) from None
    finally:
        await consumer.stop()
    return records


async def consumer_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of `topic` the group has not committed yet."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap))
    consumer = AIOKafkaConsumer(**client_options(bootstrap), group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        [described] = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        if not partitions:
            raise AssertionError(f"{topic} has no partitions in the broker's metadata")
        ends = await consumer.end_offsets(partitions)
        return sum(
            end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
        )
    finally:
        await consumer.stop()
        await admin.close()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str) -> None:
    """Wait for a condition by polling it (never a bare sleep); a probe that raises is retried."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            if await check():
                return
        except Exception as exc:  # noqa: BLE001 - e.g. the group coordinator still loading
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what} (last error: {last_error!r})")
        await asyncio.sleep(0.2)


async def start_group_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the current end of `topics` for a new consumer group, so a service started in
    that group handles only what a test sends from now on (shared contract topics)."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap))
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap), group_id=group, enable_auto_commit=False
    )
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(topics)
        partitions = [
            TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()
        await admin.close()


class EventTail:
    """Every CloudEvent appearing on a topic from now on, parsed, for tests to wait on."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.events: list[dict[str, Any]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "EventTail":
        admin = AIOKafkaAdminClient(**client_options(self.bootstrap))
        await admin.start()
        try:
            [described] = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        partitions = [TopicPartition(self.topic, p["partition"]) for p in described["partitions"]]
        self._consumer = AIOKafkaConsumer(
            **client_options(self.bootstrap), group_id=None, enable_auto_commit=False
        )
        await self._consumer.start()
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end now, before anything is sent
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                self.events.extend(json.loads(m.value) for m in messages if m.value)

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()

    def of_type(self, event_type: str, **data: object) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["type"] == event_type and all(e["data"].get(k) == v for k, v in data.items())
        ]

    async def wait_for(
        self, event_type: str, *, count: int = 1, timeout_s: float = 60, **data: object
    ) -> list[dict[str, Any]]:
        """The first `count` events of a type whose data has the given values."""

        async def arrived() -> bool:
            return len(self.of_type(event_type, **data)) >= count

        await eventually(arrived, timeout_s=timeout_s, what=f"{count} x {event_type} {data}")
        return self.of_type(event_type, **data)[:count]


async def stats_of(port: int) -> dict[str, Any]:
    """A service's /stats."""
    async with httpx.AsyncClient() as http:
        return dict((await http.get(f"http://127.0.0.1:{port}/stats")).json())


async def stats_since(port: int, moment: datetime, timeout_s: float = 30) -> dict[str, Any]:
    """A service's /stats computed after `moment`, without its `as_of`: the figures are
    recomputed in the background after writes, so a read right after an event may be
    older than it."""
    latest: dict[str, Any] = {}

    async def computed_after() -> bool:
        nonlocal latest
        latest = await stats_of(port)
        return datetime.fromisoformat(str(latest.get("as_of"))) > moment

    await eventually(computed_after, timeout_s=timeout_s, what=f"/stats computed after {moment}")
    return {k: v for k, v in latest.items() if k != "as_of"}


async def stats_showing(port: int, timeout_s: float = 30, **expected: object) -> dict[str, Any]:
    """A service's /stats once it shows the expected figures (it reacts to its own facts,
    so its figures catch up after the fact that is awaited)."""
    latest: dict[str, Any] = {}

    async def caught_up() -> bool:
        nonlocal latest
        latest = await stats_of(port)
        return all(latest.get(key) == value for key, value in expected.items())

    await eventually(caught_up, timeout_s=timeout_s, what=f"/stats with {expected}")
    return latest
