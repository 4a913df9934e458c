"""Driving the outreach service as a process: its commands, its facts, its /stats.

`running_outreach` gives the service topics of its own (`OUTREACH_TOPIC_PREFIX`), its own
consumer group and its own database, so no other outreach process (a stack, another
test) sees its commands, and its tail sees only its facts.
"""

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from infra.kafka import ensure_topics, partition_counts
from services.outreach import commands as c
from services.outreach.state import (
    ROSTER_ID,
    HouseholdState,
    RegistryEntry,
    RegistryState,
    RosterEntry,
    RosterState,
)
from services.outreach.targeting import registry_entry
from shared import Command, State
from shared._kit.envelope import CloudEvent
from shared._kit.kafka_client import client_options
from shared._kit.topics import dlq_topic
from tests.processes import ServiceProcess
from tests.support import (
    EventTail,
    Infra,
    command,
    eventually,
    produce,
    stats_showing,
    stats_since,
)

STATION_OFFSET = timedelta(hours=8)


def station_today() -> date:
    return (datetime.now(UTC) + STATION_OFFSET).date()


def as_event(message: Command, *, command_id: str | None = None) -> CloudEvent:
    """A command as the CLI puts it on the intake topic."""
    subject = message.subject_value()
    assert subject is not None
    return command(message.type, subject, message.model_dump(mode="json"), command_id=command_id)


def household(
    hid: str,
    block: str,
    *,
    ages: Sequence[int] = (45,),
    business: str | None = None,
    alone: bool = False,
) -> c.RegisterHousehold:
    return c.RegisterHousehold.model_validate(
        {
            "household_id": hid,
            "block": block,
            "address": f"{hid}, {block}",
            "members": [{"name": f"{hid}-{n}", "age": age} for n, age in enumerate(ages)],
            "business_type": business,
            "lives_alone_elderly": alone,
        }
    )


def volunteer(
    vid: str, blocks: Sequence[str], *, org: str, max_open: int = 3
) -> c.RegisterVolunteer:
    return c.RegisterVolunteer.model_validate(
        {
            "volunteer_id": vid,
            "name": vid,
            "organisation": org,
            "blocks": list(blocks),
            "phone": "13800000000",
            "max_open_visits": max_open,
        }
    )


def warning(
    wid: str,
    scheme: str,
    *,
    blocks: Sequence[str],
    business_types: Sequence[str] | None = None,
    min_age: int | None = None,
    all_households: bool | None = None,
) -> c.IssueFraudWarning:
    return c.IssueFraudWarning.model_validate(
        {
            "warning_id": wid,
            "scheme": scheme,
            "title": "Callers posing as the fire brigade order catering",
            "description": "A banquet ordered in the fire brigade's name, a deposit asked.",
            "target": {
                "business_types": list(business_types) if business_types else None,
                "min_age": min_age,
                "all_households": all_households,
            },
            "blocks": list(blocks),
            "severity": "high",
            "issued_by": "duty-desk",
        }
    )


def visit_report(
    visit: dict[str, Any], findings: dict[str, Any] | None = None, *, by: str | None = None
) -> c.ReportVisit:
    return c.ReportVisit.model_validate(
        {
            "visit_id": visit["visit_id"],
            "volunteer_id": by or visit["volunteer_id"],
            "outcome": "completed",
            "topics_covered": ["telecom_fraud", "fire_safety"],
            "findings": findings,
        }
    )


def attempt(rid: str, block: str, scheme: str) -> c.ReportFraudAttempt:
    return c.ReportFraudAttempt.model_validate(
        {
            "report_id": rid,
            "scheme": scheme,
            "block": block,
            "channel": "phone",
            "amount_at_risk_yuan": 3_000,
            "dissuaded": True,
        }
    )


@dataclass
class Outreach:
    """The service under test, its tails of events and of its private topic (its facts
    whole), and a way to send commands."""

    infra: Infra
    service: ServiceProcess
    tail: EventTail
    suffix: str
    prefix: str
    database: str
    private: EventTail

    def id(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    async def send(self, *commands: Command | CloudEvent) -> list[CloudEvent]:
        events = [m if isinstance(m, CloudEvent) else as_event(m) for m in commands]
        await produce(
            self.infra.kafka_bootstrap_servers,
            f"{self.prefix}.intake",
            [(e.key, e.to_bytes()) for e in events],
        )
        return events

    async def stats(self) -> dict[str, Any]:
        """/stats as of now: figures computed after this call (they follow the writes)."""
        return await stats_since(self.service.port, datetime.now(UTC))

    async def stats_once(self, **expected: object) -> dict[str, Any]:
        """/stats once it shows the expected figures."""
        return await stats_showing(self.service.port, 60, **expected)

    async def documents(self, collection: str) -> list[dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongodb_url)
        try:
            return [doc async for doc in client[self.database][collection].find()]
        finally:
            await client.close()


async def private_topics(infra: Infra, prefix: str) -> list[str]:
    topics = [f"{prefix}.intake", f"{prefix}.events", f"{prefix}.private"]
    everything = [*topics, *map(dlq_topic, topics)]
    await ensure_topics(infra.kafka_bootstrap_servers, everything)

    async def known() -> bool:
        counts = await partition_counts(infra.kafka_bootstrap_servers, everything)
        return all(counts.values())

    # a topic just created may not show its partitions in the metadata at once
    await eventually(known, timeout_s=30, what=f"{prefix} topics in the broker's metadata")
    return everything


async def delete_topics(infra: Infra, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(**client_options(infra.kafka_bootstrap_servers))
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def service_process(infra: Infra, prefix: str, database: str, **env: str) -> ServiceProcess:
    return ServiceProcess(
        "outreach",
        {
            **infra.env(),
            "OUTREACH_TOPIC_PREFIX": prefix,
            # figures at least every second: a test reading /stats waits for ones newer than
            # what it awaited (see tests.support.stats_since)
            "OUTREACH_STATS_MAX_AGE_S": "1",
            "OUTREACH_CONSUMER_GROUP": prefix,
            "OUTREACH_MONGODB_DATABASE": database,
            "OUTREACH_KAFKA_SESSION_TIMEOUT_MS": "6000",
            **env,
        },
    )


@asynccontextmanager
async def running_outreach(
    infra: Infra, suffix: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[Outreach]:
    """The outreach service as a process with topics, group and database of its own, all
    deleted afterwards. Each test module makes its fixture from this."""
    prefix, database = f"outreach-{suffix}", f"outreach_{suffix}".replace("-", "_")
    topics = await private_topics(infra, prefix)
    service = service_process(infra, prefix, database, **(env or {}))
    try:
        async with (
            EventTail(infra.kafka_bootstrap_servers, f"{prefix}.events") as tail,
            EventTail(infra.kafka_bootstrap_servers, f"{prefix}.private") as private,
        ):
            await service.start()
            try:
                await service.wait_ready()
                yield Outreach(infra, service, tail, suffix, prefix, database, private)
            finally:
                await service.stop()
                await service.kill()
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
        await client.drop_database(database)
        await client.close()
        await delete_topics(infra, topics)


def _document(aggregate_id: str, state: State) -> dict[str, Any]:
    """An aggregate as its store keeps it, with nothing in its inbox or outbox."""
    return {
        "_id": aggregate_id,
        "version": 1,
        "state": state.model_dump(mode="json"),
        "inbox": [],
        "outbox": [],
        "outbox_since": None,
    }


async def seed_registry(
    mongodb_url: str,
    database: str,
    households: Sequence[c.RegisterHousehold],
    volunteers: Sequence[c.RegisterVolunteer],
    *,
    chunk: int = 1_000,
) -> None:
    """Write households and volunteers straight into the service's database, as its stores
    keep them after registration (household documents, each block's index, the roster):
    tens of thousands in seconds instead of one command each, for scale tests and benches."""
    homes = [HouseholdState(**h.model_dump()) for h in households]
    blocks: dict[str, list[RegistryEntry]] = {}
    for home in homes:
        blocks.setdefault(home.block, []).append(registry_entry(home))
    registry = [
        RegistryState(
            block=block,
            households=sorted(entries, key=lambda e: e.household_id),
            size=len(entries),
        )
        for block, entries in sorted(blocks.items())
    ]
    roster = RosterState(
        volunteers=sorted(
            (
                RosterEntry(**v.model_dump(exclude={"blocks"}), blocks=sorted(set(v.blocks)))
                for v in volunteers
            ),
            key=lambda v: v.volunteer_id,
        )
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    try:
        db = client[database]
        docs = [_document(h.household_id, h) for h in homes]
        for start in range(0, len(docs), chunk):
            await db["households"].insert_many(docs[start : start + chunk])
        await db["registry"].insert_many([_document(r.block, r) for r in registry])
        await db["roster"].insert_one(_document(ROSTER_ID, roster))
    finally:
        await client.close()
