"""Driving the enterprise service as a process: its commands, its facts, its /stats."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infra.kafka import ensure_topics
from shared._kit.envelope import CloudEvent
from shared._kit.topics import dlq_topic
from tests.processes import ServiceProcess
from tests.support import EventTail, Infra, command, produce, stats_showing, stats_since

BUTANONE = "78-93-3"
CAT3 = ["drug_precursor_3", "hazardous"]
ORIGIN = (28.4500, 119.9200)  # Lishui


def _east(km: float) -> dict[str, float]:
    return {"lat": ORIGIN[0], "lon": ORIGIN[1] + km / 97.83}


@dataclass
class Enterprise:
    """The service under test on topics of its own (`<prefix>.intake`, `<prefix>.events`),
    its tail of those events and a way to send commands: no other test's (or stack's)
    records reach it, and it reads none of theirs."""

    infra: Infra
    service: ServiceProcess
    tail: EventTail
    suffix: str
    database: str
    prefix: str

    @property
    def intake(self) -> str:
        return f"{self.prefix}.intake"

    def id(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    async def send(self, *commands: CloudEvent) -> None:
        await produce(
            self.infra.kafka_bootstrap_servers,
            self.intake,
            [(c.key, c.to_bytes()) for c in commands],
        )

    def register(
        self, name: str, km: float, *, licences: list[str], capacity_kg: float
    ) -> CloudEvent:
        eid = self.id(name)
        return command(
            "enterprise.register_enterprise",
            eid,
            {
                "enterprise_id": eid,
                "name": name,
                "address": f"{km} km east of the leather works",
                "location": _east(km),
                "licences": licences,
                "liaison_officer": {
                    "officer_id": f"officer-{name}",
                    "name": "Officer Lü",
                    "phone": "13800000001",
                },
                "contact": {"name": f"{name} manager", "phone": "13900000002"},
                "storage": [{"cas": BUTANONE, "capacity_kg": capacity_kg}],
            },
        )

    def demand(self, name: str, kg: float) -> CloudEvent:
        return command(
            "enterprise.declare_demand",
            self.id(name),
            {"enterprise_id": self.id(name), "cas": BUTANONE, "quantity_kg": kg},
        )

    def inventory(self, name: str, movement: str, kg: float, cas: str = BUTANONE) -> CloudEvent:
        return command(
            "enterprise.declare_inventory",
            self.id(name),
            {"enterprise_id": self.id(name), "cas": cas, "movement": movement, "quantity_kg": kg},
        )

    def respond(
        self, transfer: dict[str, Any], accepted: bool, by: str | None = None
    ) -> CloudEvent:
        return command(
            "enterprise.respond_to_transfer",
            transfer["transfer_id"],
            {
                "transfer_id": transfer["transfer_id"],
                "accepted": accepted,
                "enterprise_id": by or transfer["to_enterprise_id"],
                "reason": "no room this month",
            },
        )

    def deliver(self, transfer: dict[str, Any], kg: float | None = None) -> CloudEvent:
        return command(
            "enterprise.confirm_delivery",
            transfer["transfer_id"],
            {
                "transfer_id": transfer["transfer_id"],
                "delivered_kg": transfer["quantity_kg"] if kg is None else kg,
            },
        )

    async def stats_once(self, **expected: object) -> dict[str, Any]:
        """/stats once it shows the expected figures."""
        return await stats_showing(self.service.port, 30, **expected)

    async def timers(self) -> list[dict[str, Any]]:
        """The service's durable timers still to come."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongodb_url)
        try:
            return [doc async for doc in client[self.database]["timers"].find()]
        finally:
            await client.close()

    async def stats(self) -> dict[str, Any]:
        """/stats as of now: figures computed after this call (they follow the writes)."""
        return await stats_since(self.service.port, datetime.now(UTC))


@pytest.fixture
async def enterprise(
    infra: Infra, unique_id: Callable[[str], str], request: pytest.FixtureRequest
) -> AsyncIterator[Enterprise]:
    marker = request.node.get_closest_marker("service_env")
    extra_env: dict[str, str] = marker.args[0] if marker else {}
    suffix = unique_id("t")
    prefix, database = f"enterprise-{suffix}", f"enterprise_{suffix}".replace("-", "_")
    topics = [f"{prefix}.intake", f"{prefix}.events", f"{prefix}.private"]
    await ensure_topics(infra.kafka_bootstrap_servers, [*topics, *map(dlq_topic, topics)])
    service = ServiceProcess(
        "enterprise",
        {
            **infra.env(),
            "ENTERPRISE_TOPIC_PREFIX": prefix,
            # figures at least every second: a test reading /stats waits for ones newer than
            # what it awaited (see tests.support.stats_since)
            "ENTERPRISE_STATS_MAX_AGE_S": "1",
            "ENTERPRISE_CONSUMER_GROUP": prefix,
            "ENTERPRISE_MONGODB_DATABASE": database,
            "ENTERPRISE_KAFKA_SESSION_TIMEOUT_MS": "6000",
            **extra_env,
        },
    )
    async with EventTail(infra.kafka_bootstrap_servers, f"{prefix}.events") as tail:
        await service.start()
        try:
            await service.wait_ready()
            yield Enterprise(infra, service, tail, suffix, database, prefix)
        finally:
            await service.stop()
            await service.kill()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    await client.drop_database(database)
    await client.close()
