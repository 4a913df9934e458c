"""Driving the notifier as a process: a local SMS gateway and mail sink (the development
ones, in this test's loop), the other services' facts put on their topics, its facts."""

import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

# the producers' classes say which of their facts' fields are personal (`copies`)
import services.enterprise.messages
import services.mediation.messages
import services.outreach.messages  # noqa: F401
from infra.dev_sinks import MailSink, SmsGateway, serve_sms, serve_smtp
from infra.kafka import ensure_topics
from shared._kit.envelope import CloudEvent
from shared._kit.personal import copies
from tests.integration.enterprise_support import Enterprise
from tests.processes import ServiceProcess
from tests.support import (
    EventTail,
    Infra,
    eventually,
    free_port,
    produce,
    start_group_at_end,
    stats_since,
)

PRODUCERS = ("enterprise", "mediation", "outreach")
# the public and the private topic of each producer (the notifier reads both)
READS = [f"{p}.{kind}" for p in PRODUCERS for kind in ("events", "private")]
TOKEN = "test-token"


def phone() -> str:
    """A mobile number no other test uses."""
    return f"13{random.randrange(10**9):09d}"


def fact(producer: str, name: str, subject: str, data: dict[str, Any]) -> CloudEvent:
    """A fact as another service publishes it."""
    return CloudEvent(
        id=uuid.uuid4().hex,
        source=f"/services/{producer}",
        type=f"{producer}.{name}",
        subject=subject,
        time=datetime.now(UTC),
        data=data,
    )


@dataclass
class Notifier:
    """The service under test, its facts, the gateway and sink it sends to."""

    infra: Infra
    service: ServiceProcess
    tail: EventTail
    gateway: SmsGateway
    mail: MailSink
    suffix: str
    database: str
    env: dict[str, str]
    brigade_phone: str
    desk_phone: str
    brigade_email: str
    desk_email: str
    stopped: list[ServiceProcess] = field(default_factory=list)

    def id(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    def label(self, name: str) -> str:
        """A name of this test as an SMS may carry it whole: the suffix's digits written
        as letters (a name keeps at most four digits)."""
        return name + self.suffix.translate(str.maketrans("0123456789", "ghijklmnop"))

    async def publish(self, *events: CloudEvent) -> None:
        """Facts on their producers' topics as the producers publish them (a fact with
        personal fields whole on the private topic, without them on events), in order
        per topic."""
        for producer in PRODUCERS:
            own = [e for e in events if e.type.startswith(f"{producer}.")]
            for topic, group in copies(f"{producer}.events", f"{producer}.private", own):
                if group:
                    batch = [(e.key, e.to_bytes()) for e in group]
                    await produce(self.infra.kafka_bootstrap_servers, topic, batch)

    async def restart(self) -> None:
        """A new process of the same deployment (same group, database and topics)."""
        self.stopped.append(self.service)
        self.service = ServiceProcess("notifier", self.env)
        await self.service.start()
        await self.service.wait_ready()

    async def stats(self) -> dict[str, Any]:
        """/stats as of now: figures computed after this call (they follow the writes)."""
        return await stats_since(self.service.port, datetime.now(UTC))

    async def known(self, **kinds: int) -> None:
        """Wait until the directory holds that many recipients of each kind."""

        async def learned() -> bool:
            found = (await self.stats())["recipients_known"]
            return all(found.get(kind, 0) >= n for kind, n in kinds.items())

        await eventually(learned, timeout_s=60, what=f"directory with {kinds}")

    async def sms_to(
        self, number: str, count: int = 1, timeout_s: float = 60, about: str = ""
    ) -> list[Any]:
        """SMS to `number` whose text mentions `about`."""

        def found() -> list[Any]:
            return [m for m in self.gateway.to(number) if about in m["text"]]

        async def arrived() -> bool:
            return len(found()) >= count

        await eventually(arrived, timeout_s=timeout_s, what=f"{count} SMS to {number}")
        return found()

    async def mail_to(self, address: str, count: int = 1, about: str = "") -> list[Any]:
        """E-mails to `address` whose text mentions `about` (the desks hear of other
        tests' facts too: tests pick theirs by their own ids)."""

        def found() -> list[Any]:
            return [m for m in self.mail.to(address) if about in m["text"]]

        async def arrived() -> bool:
            return len(found()) >= count

        await eventually(arrived, timeout_s=60, what=f"{count} e-mails to {address}")
        return found()

    async def facts(self, event_type: str, causes: set[str], count: int) -> list[Any]:
        """This test's facts of a type: those caused by `causes` (the service also hears
        other tests' facts on the shared topics)."""

        def found() -> list[Any]:
            return [e for e in self.tail.of_type(event_type) if e["data"]["cause_id"] in causes]

        async def arrived() -> bool:
            return len(found()) >= count

        await eventually(arrived, timeout_s=60, what=f"{count} x {event_type}")
        return found()

    def enterprise_registered(
        self, name: str, contact_phone: str, officer_phone: str
    ) -> CloudEvent:
        eid = self.id(name)
        return fact(
            "enterprise",
            "enterprise_registered",
            eid,
            {
                "enterprise_id": eid,
                "name": f"{name}化工",
                "address": "丽水",
                "location": {"lat": 28.45, "lon": 119.92},
                "licences": ["hazardous"],
                "liaison_officer": {
                    "officer_id": self.id("officer"),
                    "name": "吕警官",
                    "phone": officer_phone,
                },
                "contact": {"name": f"{name}经理", "phone": contact_phone},
                "storage": [],
            },
        )

    def over_capacity(self, name: str, officer_phone: str, *, officer_id: str | None) -> CloudEvent:
        eid = self.id(name)
        officer: dict[str, Any] = {"name": "吕警官", "phone": officer_phone}
        if officer_id is not None:
            officer["officer_id"] = officer_id
        return fact(
            "enterprise",
            "over_capacity_detected",
            eid,
            {
                "alert_id": self.id(f"alert-{uuid.uuid4().hex[:6]}"),
                "enterprise_id": eid,
                "enterprise_name": f"{self.label(name)}合成革",
                "cas": "78-93-3",
                "chemical_name": "丁酮",
                "chemical_name_en": "butanone",
                "control_categories": ["drug_precursor_3", "hazardous"],
                "stock_kg": 30_000,
                "capacity_kg": 20_000,
                "surplus_kg": 10_000,
                "liaison_officer": officer,
                "address": "丽水",
                "contact": {"name": "经理", "phone": "13900000002"},
            },
        )


@pytest.fixture
async def notifier(
    infra: Infra, unique_id: Callable[[str], str], request: pytest.FixtureRequest
) -> AsyncIterator[Notifier]:
    marker = request.node.get_closest_marker("service_env")
    extra_env: dict[str, str] = marker.args[0] if marker else {}
    suffix = unique_id("n")
    group, database = f"notifier-{suffix}", f"notifier_{suffix}".replace("-", "_")
    prefix = f"notifier-{suffix}"
    # its own intake (erasures) and events, with the intake's dead-letter topic
    own = [f"{prefix}.intake", f"{prefix}.intake.dlq", f"{prefix}.events"]
    await ensure_topics(infra.kafka_bootstrap_servers, own)
    await start_group_at_end(infra.kafka_bootstrap_servers, group, READS)
    gateway, mail = SmsGateway(token=TOKEN, log=lambda _line: None), MailSink(log=lambda _l: None)
    sms_port, smtp_port = free_port(), free_port()
    servers = [
        await serve_sms(gateway, "127.0.0.1", sms_port),
        await serve_smtp(mail, "127.0.0.1", smtp_port),
    ]
    brigade_phone, desk_phone = phone(), phone()
    brigade_email = f"brigade-{suffix}@station.internal"
    desk_email = f"desk-{suffix}@station.internal"
    env = {
        **infra.env(),
        "NOTIFIER_CONSUMER_GROUP": group,
        "NOTIFIER_MONGODB_DATABASE": database,
        "NOTIFIER_TOPIC_PREFIX": prefix,
        # figures at least every second: a test reading /stats waits for ones newer than
        # what it awaited (see tests.support.stats_since)
        "NOTIFIER_STATS_MAX_AGE_S": "1",
        "NOTIFIER_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "NOTIFIER_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms_port}/sms",
        "NOTIFIER_SMS_GATEWAY_TOKEN": TOKEN,
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_BRIGADE_PHONE": brigade_phone,
        "NOTIFIER_BRIGADE_EMAIL": brigade_email,
        "NOTIFIER_DUTY_DESK_PHONE": desk_phone,
        "NOTIFIER_DUTY_DESK_EMAIL": desk_email,
        "NOTIFIER_RETRY_INITIAL_S": "0.3",
        "NOTIFIER_RETRY_MAX_S": "1",
        "NOTIFIER_TIMER_INTERVAL_S": "0.1",
        # the tests run at any hour: no quiet hours unless a test sets them
        "NOTIFIER_QUIET_HOURS_START": "00:00",
        "NOTIFIER_QUIET_HOURS_END": "00:00",
        # the desks hear of every test's facts on the shared contract topics: past the
        # hourly limit their messages would be held (the limit's own tests set theirs)
        "NOTIFIER_MAX_PER_RECIPIENT_PER_HOUR": "1000",
        **extra_env,
    }
    service = ServiceProcess("notifier", env)
    async with EventTail(infra.kafka_bootstrap_servers, f"{prefix}.events") as tail:
        await service.start()
        found = Notifier(
            infra,
            service,
            tail,
            gateway,
            mail,
            suffix,
            database,
            env,
            brigade_phone,
            desk_phone,
            brigade_email,
            desk_email,
        )
        try:
            await service.wait_ready()
            yield found
        finally:
            for process in [*found.stopped, found.service]:
                await process.stop()
                await process.kill()
            for server in servers:
                server.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    await client.drop_database(database)
    await client.close()


@pytest.fixture
async def contract_enterprise(
    infra: Infra, unique_id: Callable[[str], str]
) -> AsyncIterator[Enterprise]:
    """The enterprise service on the contract's own topics (`enterprise.intake`,
    `enterprise.events`), where the notifier reads its facts; a consumer group and a
    database of its own, starting at the end of those topics."""
    suffix = unique_id("e")
    group, database = f"enterprise-{suffix}", f"enterprise_{suffix}".replace("-", "_")
    await start_group_at_end(
        infra.kafka_bootstrap_servers,
        group,
        ["enterprise.intake", "enterprise.events", "enterprise.private"],
    )
    service = ServiceProcess(
        "enterprise",
        {
            **infra.env(),
            "ENTERPRISE_CONSUMER_GROUP": group,
            "ENTERPRISE_MONGODB_DATABASE": database,
            "ENTERPRISE_KAFKA_SESSION_TIMEOUT_MS": "6000",
        },
    )
    async with EventTail(infra.kafka_bootstrap_servers, "enterprise.events") as tail:
        await service.start()
        try:
            await service.wait_ready()
            yield Enterprise(infra, service, tail, suffix, database, "enterprise")
        finally:
            await service.stop()
            await service.kill()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    await client.drop_database(database)
    await client.close()
