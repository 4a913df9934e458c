"""Hostile input is harmless on the real broker and server (issue 22, item 8): a few hundred
generated and broken records on the enterprise service's intake, then one valid marker per
partition. Once every marker's fact is out, every record must be accounted for (its facts,
one `command_rejected`, or one DLQ copy), the process still runs, `/readyz` answered 200
throughout, and nothing a refused record named was stored.
"""

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from services.enterprise.app import SERVICE
from shared._kit.envelope import kafka_headers
from shared._kit.kafka_client import client_options
from shared._kit.pipeline import REJECTED
from shared._kit.topics import dlq_topic
from shared.testing import Scenario
from tests.fuzz_support import KAFKA_MESSAGE_MAX, intake_record, reference_reading
from tests.integration.enterprise_support import Enterprise
from tests.support import read_topic

pytestmark = pytest.mark.integration

RECORDS = 300
PARTITIONS = 6  # infra.kafka.DEFAULT_PARTITIONS: one marker each


def _generated(count: int) -> list[tuple[str, bytes]]:
    """`count` records from the shared generator (derandomised under CI, like the unit fuzz);
    none larger than the broker takes."""
    routes = Scenario(SERVICE).runtime.routes["enterprise.intake"]
    made: list[tuple[str, bytes]] = []

    @settings(max_examples=count, phases=[Phase.generate], deadline=None, database=None)
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        if len(made) < count:
            made.append(data.draw(intake_record(routes, len(made), largest=KAFKA_MESSAGE_MAX // 2)))

    while len(made) < count:
        one()
    return made


async def _send(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, int | None]]
) -> list[tuple[int, int]]:
    """Send in order with acks=all; where each record landed (partition, offset)."""
    producer = AIOKafkaProducer(
        **client_options(bootstrap), acks="all", enable_idempotence=True, max_request_size=2**21
    )
    await producer.start()
    try:
        landed = []
        for key, value, partition in records:
            meta = await producer.send_and_wait(
                topic, value, key=key, partition=partition, headers=kafka_headers()
            )
            landed.append((meta.partition, meta.offset))
        return landed
    finally:
        await producer.stop()


async def _end(bootstrap: str, topic: str) -> int:
    """How many records a topic holds (the sum of its partitions' end offsets)."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap))
    consumer = AIOKafkaConsumer(**client_options(bootstrap), group_id=None)
    await admin.start()
    await consumer.start()
    try:
        [described] = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        assert partitions, f"{topic} has no partitions in the broker's metadata"
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()
        await admin.close()


def _marker(ent: Enterprise, partition: int) -> bytes:
    eid = ent.id(f"marker-{partition}")
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"marker-{partition}",
            "source": "/intake/fuzz",
            "type": "enterprise.register_enterprise",
            "subject": eid,
            "data": {
                "enterprise_id": eid,
                "name": "Marker Chemicals",
                "address": "1 Marker Road",
                "location": {"lat": 28.45, "lon": 119.92},
                "licences": ["hazardous"],
                "liaison_officer": {
                    "officer_id": "officer-m",
                    "name": "Lü",
                    "phone": "13800000001",
                },
                "contact": {"name": "Manager", "phone": "13900000002"},
                "storage": [],
            },
        }
    ).encode()


async def _send_watching_readiness(
    ent: Enterprise, made: list[tuple[str, bytes]]
) -> tuple[list[tuple[int, int]], Counter[int]]:
    """Send the records, then a marker per partition, and wait for every marker's fact while
    /readyz is polled; where each record landed, and what /readyz answered."""
    bootstrap = ent.infra.kafka_bootstrap_servers
    readiness: Counter[int] = Counter()

    async def watch_readiness() -> None:
        async with httpx.AsyncClient() as http:
            while True:
                answer = await http.get(f"http://127.0.0.1:{ent.service.port}/readyz", timeout=5)
                readiness[answer.status_code] += 1
                await asyncio.sleep(0.2)  # a sampling period, not a wait for a condition

    watcher = asyncio.create_task(watch_readiness())
    try:
        keys = [
            read.subject.encode("utf-8", "surrogatepass")
            if (read := reference_reading(raw)) is not None and read.subject
            else None
            for _, raw in made
        ]
        landed = await _send(
            bootstrap, ent.intake, [(k, raw, None) for k, (_, raw) in zip(keys, made, strict=True)]
        )
        await _send(bootstrap, ent.intake, [(None, _marker(ent, p), p) for p in range(PARTITIONS)])
        for p in range(PARTITIONS):
            try:
                await ent.tail.wait_for(
                    "enterprise.enterprise_registered",
                    enterprise_id=ent.id(f"marker-{p}"),
                    timeout_s=120,
                )
            except AssertionError as exc:
                raise AssertionError(
                    f"partition {p} stalled: {exc}; /readyz answered {dict(readiness)}; "
                    f"the service's last complaints: {_complaints(ent)}"
                ) from None
    finally:
        watcher.cancel()
    return landed, readiness


def _complaints(ent: Enterprise) -> list[str]:
    """The service's last warning and error log lines, shortened."""
    found = [line[:300] for line in ent.service.lines if '"warning"' in line or '"error"' in line]
    return found[-3:]


async def _dead_letters(bootstrap: str, topic: str) -> dict[tuple[int, int], list[str]]:
    """The reasons of every dead letter of `topic`, by the original record's place."""
    # once the markers' facts are out, every dead letter before them is written: read all
    written = await _end(bootstrap, dlq_topic(topic))
    dlq = await read_topic(
        bootstrap, dlq_topic(topic), until=lambda r: len(r) >= written, timeout_s=60
    )
    found: dict[tuple[int, int], list[str]] = {}
    for message in dlq:
        headers = dict(message.headers)
        where = (
            int(headers["x-dlq-original-partition"]),
            int(headers["x-dlq-original-offset"]),
        )
        found.setdefault(where, []).append(headers["x-dlq-reason"].decode())
    return found


async def _stored_ids(ent: Enterprise) -> set[str]:
    """The ids of every document the service keeps (its bookkeeping aside)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ent.infra.mongodb_url)
    try:
        db = client[ent.database]
        return {
            str(doc["_id"])
            for name in await db.list_collection_names()
            if name not in ("processed", "timers")
            async for doc in db[name].find({}, {"_id": 1})
        }
    finally:
        await client.close()


@pytest.mark.service_env({"ENTERPRISE_STUCK_AFTER_S": "10"})
async def test_hundreds_of_hostile_records_are_each_accounted_for_and_change_nothing(
    enterprise: Enterprise,
) -> None:
    ent = enterprise
    made = _generated(RECORDS)

    landed, readiness = await _send_watching_readiness(ent, made)

    assert ent.service.proc is not None
    assert ent.service.proc.returncode is None, "the service exited"
    assert set(readiness) == {200}, f"/readyz answered {dict(readiness)}"
    dead = await _dead_letters(ent.infra.kafka_bootstrap_servers, ent.intake)
    caused: dict[str, list[dict[str, Any]]] = {}
    for event in ent.tail.events:
        caused.setdefault(str(event.get("causationid")), []).append(event)
    counts: Counter[str] = Counter()
    unaccounted = []
    refused_subjects: set[str] = set()
    applied_subjects: set[str] = set()
    for (how, raw), where in zip(made, landed, strict=True):
        read = reference_reading(raw)
        answers = caused.get(read.id, []) if read is not None else []
        rejections = [e for e in answers if e["type"].endswith(f".{REJECTED}")]
        if where in dead:
            assert len(dead[where]) == 1, f"{how} at {where}: dead-lettered {dead[where]}"
            assert dead[where] != ["handler_failed"], f"{how} at {where}: a handler crashed"
            assert answers == [], f"{how} at {where}: dead-lettered and answered"
            ending = "dead_lettered"
        elif rejections:
            assert len(rejections) == 1, f"{how} at {where}: rejected {len(rejections)} times"
            ending = "rejected"
        elif answers:
            ending = "applied"
        else:
            unaccounted.append((how, where, raw[:120]))
            continue
        counts[ending] += 1
        if read is not None and read.subject:
            (applied_subjects if ending == "applied" else refused_subjects).add(read.subject)
    figures = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"fuzz enterprise on Kafka: sent={len(made)}, {figures}")  # shown with -s or -rP
    assert unaccounted == [], f"{len(unaccounted)} records with no trace: {unaccounted[:5]}"
    stored = await _stored_ids(ent)
    assert stored & (refused_subjects - applied_subjects) == set(), "a refused record was stored"
