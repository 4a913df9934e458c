"""What the notifier's rule tests share (no tests here): in-memory channels, the service
wired with them, and the facts of the seed stories as the other services state them."""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from services.notifier import messages, readers
from services.notifier.app import wiring
from services.notifier.channels import Outgoing, Sender
from services.notifier.domain import Delivered, Failed
from services.notifier.messages import Channel
from services.notifier.settings import NotifierSettings
from shared import Fact, Service
from shared._kit.envelope import CloudEvent
from shared.testing import Outcome, Scenario

F = TypeVar("F", bound=Fact)

BUTANONE = "78-93-3"
OFFICER_PHONE = "13800000001"
BRIGADE_PHONE = "13700000110"
DESK_PHONE = "13700000120"


@dataclass
class FakeChannel:
    """A channel that records what it was given; it fails the first `failures` attempts
    of each notification, its first `outage` calls whatever they carry, or every call
    when `always`; permanently if told so."""

    failures: int = 0
    outage: int = 0
    always: bool = False
    permanent: bool = False
    sent: list[Outgoing] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)

    async def send(self, message: Outgoing) -> Delivered | Failed:
        self.calls[message.notification_id] += 1
        failing = self.calls[message.notification_id] <= self.failures
        if self.always or failing or self.calls.total() <= self.outage:
            return Failed("gateway answered 500", permanent=self.permanent)
        self.sent.append(message)
        return Delivered()

    def to(self, address: str) -> list[Outgoing]:
        return [m for m in self.sent if m.address == address]


@dataclass
class Channels:
    sms: FakeChannel = field(default_factory=FakeChannel)
    email: FakeChannel = field(default_factory=FakeChannel)
    log: FakeChannel = field(default_factory=FakeChannel)

    def by_name(self) -> dict[Channel, FakeChannel]:
        return {"sms": self.sms, "email": self.email, "log": self.log}


def scenario(
    fakes: Channels | None = None,
    *,
    start: datetime | None = None,
    senders: Mapping[Channel, Sender] | None = None,
    **settings: Any,
) -> tuple[Scenario[NotifierSettings], Channels]:
    """The notifier on in-memory stores and channels (`senders` instead of the fakes if
    given); desks with phones and addresses."""
    fakes = fakes or Channels()
    chosen = senders if senders is not None else fakes.by_name()
    service = Service("notifier", NotifierSettings, wiring(lambda _s: chosen), contract=messages)
    defaults: dict[str, Any] = {
        "brigade_phone": BRIGADE_PHONE,
        "duty_desk_phone": DESK_PHONE,
        "retry_initial_s": 10,
        "retry_max_s": 60,
    }
    options: dict[str, Any] = {**defaults, **settings}
    if start is not None:
        return Scenario(service, start=start, **options), fakes
    return Scenario(service, **options), fakes


async def run_timers(
    notifier: Scenario[NotifierSettings], *, step: timedelta = timedelta(seconds=60)
) -> Outcome:
    """Move the clock by `step` until no timer is left; everything that was published."""
    events: list[CloudEvent] = []
    for _ in range(100):
        if not notifier.db["timers"].docs:
            return Outcome(events)
        events += (await notifier.advance(step)).events
    raise AssertionError("timers keep coming")


def published(notifier: Scenario[NotifierSettings], fact: type[F]) -> list[F]:
    """Every fact of a type the notifier published in reaction to a fact so far (what
    fired timers publish is in the outcome of `advance`)."""
    return Outcome(list(notifier.history)).of(fact)


def timers_due(notifier: Scenario[NotifierSettings]) -> list[tuple[str, datetime]]:
    """The timers still to fire, (id, due time), soonest first."""
    docs = notifier.db["timers"].docs.values()
    return sorted(((doc["_id"], doc["due_at"]) for doc in docs), key=lambda t: (t[1], t[0]))


def officer(officer_id: str | None = "officer-lu", phone: str = OFFICER_PHONE) -> dict[str, Any]:
    found: dict[str, Any] = {"name": "吕警官", "phone": phone}
    if officer_id is not None:
        found["officer_id"] = officer_id
    return found


def enterprise_registered(eid: str, *, phone: str = "13900000002") -> Fact:
    return readers.EnterpriseRegistered.model_validate(
        {
            "enterprise_id": eid,
            "name": f"{eid}化工",
            "liaison_officer": officer(),
            "contact": {"name": f"{eid}经理", "phone": phone},
        }
    )


def over_capacity(
    eid: str = "leather", *, alert_id: str = "alert-1", officer_id: str | None = "officer-lu"
) -> Fact:
    return readers.OverCapacityDetected.model_validate(
        {
            "alert_id": alert_id,
            "enterprise_id": eid,
            "enterprise_name": "丽水合成革有限公司",
            "cas": BUTANONE,
            "chemical_name": "丁酮",
            "chemical_name_en": "butanone",
            "stock_kg": 30_000,
            "capacity_kg": 20_000,
            "surplus_kg": 10_000,
            "liaison_officer": officer(officer_id),
        }
    )


def proposed(*recipients: tuple[str, float]) -> Fact:
    return readers.RedistributionProposed.model_validate(
        {
            "alert_id": "alert-1",
            "cas": BUTANONE,
            "transfers": [
                {"transfer_id": f"transfer-{eid}", "to_enterprise_id": eid, "quantity_kg": kg}
                for eid, kg in recipients
            ],
        }
    )


def escalated() -> Fact:
    return readers.RedistributionEscalated(
        alert_id="alert-1",
        enterprise_id="leather",
        cas=BUTANONE,
        unallocated_kg=2_500,
        reason="no_eligible_recipient",
    )


def volunteer_registered(vid: str, phone: str | None = "13600000003") -> Fact:
    return readers.VolunteerRegistered(volunteer_id=vid, name="王芳", phone=phone)


def visit_assigned(vid: str | None, visit_id: str = "visit-1") -> Fact:
    return readers.VisitAssigned(
        visit_id=visit_id,
        volunteer_id=vid,
        volunteer_name="王芳",
        household_id="hh-0712",
        block="block-07",
        topics=["telecom_fraud", "elderly_care_fraud"],
        due_by="2026-06-05",
    )


def mediator_assigned(mid: str = "mediator-lv", phone: str | None = "13500000004") -> Fact:
    return readers.MediatorAssigned(
        case_id="case-0042", mediator_id=mid, mediator_name="吕调解员", mediator_phone=phone
    )


def home_service_scheduled(request_id: str = "req-1", phone: str | None = "13400000005") -> Fact:
    return readers.HomeServiceScheduled.model_validate(
        {
            "request_id": request_id,
            "service": "id_card_replacement",
            "appointment_date": "2026-06-05",
            "address": "水阁街道三岩寺路12号",
            "requested_by": {"name": "陈先生", "relation": "son", "phone": phone},
        }
    )
