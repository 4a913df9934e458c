"""Driving the mediation service as a process: its commands, outreach's disputes, its /stats.

Each test module makes its own fixture from `running_mediation` (its own consumer group,
started at the end of the shared topics, and its own database, dropped afterwards).
"""

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

import services.outreach.messages  # noqa: F401 - says which fields are personal
from shared._kit.envelope import CloudEvent
from shared._kit.personal import copies
from tests.processes import ServiceProcess
from tests.support import (
    EventTail,
    Infra,
    command,
    produce,
    start_group_at_end,
    stats_showing,
    stats_since,
)

TOPICS = ["mediation.intake", "mediation.events", "mediation.private", "outreach.private"]
LEI_PARTIES = [
    {"name": "Ms. Lei", "role": "applicant", "phone": "13900000001"},
    {"name": "Chen", "role": "respondent", "phone": "13900000002"},
    {"name": "Ye", "role": "third_party"},
]


@dataclass
class Mediation:
    """The service under test, its tails of mediation.events and mediation.private (its
    facts whole) and a way to send commands."""

    infra: Infra
    service: ServiceProcess
    tail: EventTail
    suffix: str
    database: str
    private: EventTail

    def id(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    def case_id(self, dispute: str) -> str:
        return f"case-{self.id(dispute)}"

    async def send(self, *commands: CloudEvent) -> None:
        await produce(
            self.infra.kafka_bootstrap_servers,
            "mediation.intake",
            [(c.key, c.to_bytes()) for c in commands],
        )

    def register(
        self,
        name: str,
        kind: str,
        specialties: list[str],
        *,
        blocks: list[str] | None = None,
        max_active_cases: int = 5,
    ) -> CloudEvent:
        mid = self.id(name)
        return command(
            "mediation.register_mediator",
            mid,
            {
                "mediator_id": mid,
                "name": name,
                "kind": kind,
                "specialties": specialties,
                "blocks": blocks or [],
                "phone": "13800000001",
                "max_active_cases": max_active_cases,
            },
        )

    def report(
        self,
        name: str,
        category: str = "construction_payment",
        *,
        urgency: str = "normal",
        block: str | None = "block-03",
    ) -> CloudEvent:
        did = self.id(name)
        return command(
            "mediation.report_dispute",
            did,
            {
                "dispute_id": did,
                "source": "walk_in",
                "category": category,
                "parties": LEI_PARTIES,
                "description": "renovation stuck over the worker's pay; the door taken out",
                "block": block,
                "urgency": urgency,
            },
        )

    def session(
        self,
        case_id: str,
        mediator: str,
        outcome: str,
        terms: list[dict[str, str]] | None = None,
    ) -> CloudEvent:
        data: dict[str, object] = {
            "case_id": case_id,
            "mediator_id": self.id(mediator),
            "held_at": "2026-11-28T10:00:00+08:00",
            "outcome": outcome,
        }
        if terms is not None:
            data["terms"] = terms
        return command("mediation.record_session", case_id, data)

    def check(self, case_id: str, index: int, fulfilled: bool = True) -> CloudEvent:
        return command(
            "mediation.check_obligation",
            case_id,
            {
                "case_id": case_id,
                "term_index": index,
                "fulfilled": fulfilled,
                "checked_at": "2026-12-20T09:00:00+08:00",
            },
        )

    async def visit_found_dispute(self, visit: str, *, on_site: bool) -> str:
        """Publish `outreach.dispute_detected` as the outreach service would; the visit id."""
        vid = self.id(visit)
        event = CloudEvent(
            id=uuid.uuid4().hex,
            source="/services/outreach",
            type="outreach.dispute_detected",
            subject=vid,
            time=datetime.now(UTC),
            data={
                "visit_id": vid,
                "household_id": self.id("household-wu"),
                "block": "block-07",
                "category": "family",
                "parties": [{"name": "Mr. Wu", "role": "husband"}, {"name": "Mrs. Wu"}],
                "description": "a couple quarrelling",
                "resolved_on_site": on_site,
                "found_by": self.id("officer"),
            },
        )
        # as outreach publishes it: whole on its private topic, without parties and
        # description on its events topic
        for topic, group in copies("outreach.events", "outreach.private", [event]):
            await produce(
                self.infra.kafka_bootstrap_servers, topic, [(e.key, e.to_bytes()) for e in group]
            )
        return vid

    async def stats(self) -> dict[str, Any]:
        """/stats as of now: figures computed after this call (they follow the writes)."""
        return await stats_since(self.service.port, datetime.now(UTC))

    async def stats_once(self, **expected: object) -> dict[str, Any]:
        """/stats once it shows the expected figures."""
        return await stats_showing(self.service.port, 30, **expected)

    async def load_of(self, name: str) -> dict[str, int]:
        """A mediator's active cases and maximum, from /stats."""
        load: dict[str, int] = (await self.stats())["mediator_load"][self.id(name)]
        return load

    async def documents(self, collection: str) -> list[dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongodb_url)
        try:
            return [doc async for doc in client[self.database][collection].find()]
        finally:
            await client.close()


@asynccontextmanager
async def running_mediation(
    infra: Infra, suffix: str, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[Mediation]:
    """The mediation service as a process with its own group and database."""
    group, database = f"mediation-{suffix}", f"mediation_{suffix}".replace("-", "_")
    await start_group_at_end(infra.kafka_bootstrap_servers, group, TOPICS)
    service = ServiceProcess(
        "mediation",
        {
            **infra.env(),
            "MEDIATION_CONSUMER_GROUP": group,
            # figures at least every second: a test reading /stats waits for ones newer than
            # what it awaited (see tests.support.stats_since)
            "MEDIATION_STATS_MAX_AGE_S": "1",
            "MEDIATION_MONGODB_DATABASE": database,
            "MEDIATION_KAFKA_SESSION_TIMEOUT_MS": "6000",
            **(extra_env or {}),
        },
    )
    try:
        async with (
            EventTail(infra.kafka_bootstrap_servers, "mediation.events") as tail,
            EventTail(infra.kafka_bootstrap_servers, "mediation.private") as private,
        ):
            await service.start()
            try:
                await service.wait_ready()
                yield Mediation(infra, service, tail, suffix, database, private)
            finally:
                await service.stop()
                await service.kill()
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
        await client.drop_database(database)
        await client.close()
