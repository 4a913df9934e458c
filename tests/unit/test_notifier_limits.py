"""What the notifier refuses to be made to do, in memory on an injected clock: more than
the hourly limit of messages to one phone (held, then summarised), a phone number named
by a service that does not own the recipient, a fact's own `time` deciding anything, an
e-mail address that is not one address, a gateway it was not given."""

# the messages are Chinese, written with full-width commas and brackets
# ruff: noqa: RUF001

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import structlog

from services.notifier import messages, readers
from services.notifier.app import wiring
from services.notifier.channels import LogChannel, Outgoing, SmtpMail, channels_from
from services.notifier.domain import Failed, RateLimit, admitted, summarised
from services.notifier.messages import (
    NotificationDelayed,
    NotificationFailed,
    NotificationHeld,
    NotificationSent,
)
from services.notifier.settings import NotifierSettings
from services.notifier.state import Contact, DirectoryEntry, NotificationState, RecipientQuota
from shared import Service
from shared.testing import Outcome, Scenario
from tests.unit.test_notifier_support import (
    BRIGADE_PHONE,
    Channels,
    published,
    scenario,
    timers_due,
    visit_assigned,
    volunteer_registered,
)

VOLUNTEER_PHONE = "13600000003"
CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _visits(notifier: Scenario[NotifierSettings], count: int, first: int = 0) -> Outcome:
    events = []
    for n in range(first, first + count):
        events += (await notifier.when(visit_assigned("vol-1", visit_id=f"visit-{n}"))).events
    return Outcome(events)


async def test_past_the_hourly_limit_messages_are_held_and_summarised_in_one() -> None:
    notifier, channels = scenario(channels="sms", max_per_recipient_per_hour=3)
    await notifier.given(volunteer_registered("vol-1", phone=VOLUNTEER_PHONE))
    start = notifier.clock.now()

    burst = await _visits(notifier, 5)

    assert len(channels.sms.to(VOLUNTEER_PHONE)) == 3
    held = burst.of(NotificationHeld)
    assert [(h.held, h.summary_at) for h in held] == [
        (1, start + timedelta(hours=1)),
        (2, start + timedelta(hours=1)),
    ]
    assert (await notifier.stats())["held"] == 2
    [(_id, due)] = timers_due(notifier)
    assert due == start + timedelta(hours=1)

    later = await notifier.advance(timedelta(minutes=59))
    assert later.of(NotificationSent) == [], "no slot within the hour"
    summary = await notifier.advance(timedelta(minutes=1))

    [told] = summary.of(NotificationSent)
    assert (told.template, told.summarised, told.recipient.id) == ("held_summary", 2, "vol-1")
    last = channels.sms.to(VOLUNTEER_PHONE)[-1]
    assert last.text == "【县公安局】另有2条通知因一小时内发送过多未单独发送，请登录工作台查看。"
    assert len(channels.sms.to(VOLUNTEER_PHONE)) == 4


async def test_after_a_summary_the_next_message_waits_for_a_free_slot_not_a_new_summary() -> None:
    notifier, channels = scenario(channels="sms", max_per_recipient_per_hour=2)
    await notifier.given(volunteer_registered("vol-1", phone=VOLUNTEER_PHONE))
    await _visits(notifier, 3)  # two sent, one held
    await notifier.advance(timedelta(hours=1))  # the summary takes a slot
    assert len(channels.sms.to(VOLUNTEER_PHONE)) == 3

    after = await _visits(notifier, 2, first=10)

    # one slot was left in the new hour: one sent, the other held for the next summary
    assert len(after.of(NotificationSent)) == 1
    assert [h.held for h in after.of(NotificationHeld)] == [1]


async def test_a_summary_granted_before_a_crash_is_created_and_sent_once_when_its_timer_fires() -> (
    None
):
    notifier, channels = scenario(channels="sms", max_per_recipient_per_hour=1)
    await notifier.given(volunteer_registered("vol-1", phone=VOLUNTEER_PHONE))
    await _visits(notifier, 3)  # one sent, two held
    [doc] = notifier.db["quotas"].docs.values()
    notifier.clock.advance(timedelta(hours=1))
    # the grant was written, then the process died before the summary was created
    quota = RecipientQuota.model_validate(doc["state"])
    granted = summarised(
        quota,
        summary_id="summary-before-the-crash",
        limit=RateLimit(1, timedelta(hours=1)),
        now=notifier.clock.now(),
    )
    assert granted is not None
    doc["state"] = granted.state.model_dump(mode="json")

    fired = await notifier.advance(timedelta(seconds=1))
    again = await notifier.advance(timedelta(hours=1))

    [told] = fired.of(NotificationSent)
    assert (told.notification_id, told.summarised) == ("summary-before-the-crash", 2)
    assert again.of(NotificationSent) == []
    assert len(channels.sms.to(VOLUNTEER_PHONE)) == 2


async def test_a_summary_due_in_quiet_hours_waits_for_the_morning() -> None:
    notifier, channels = scenario(
        channels="sms",
        max_per_recipient_per_hour=1,
        start=datetime(2026, 11, 28, 21, 30, tzinfo=CST),
    )
    await notifier.given(volunteer_registered("vol-1", phone=VOLUNTEER_PHONE))
    await _visits(notifier, 2)  # 21:30: one sent, one held

    at_half_past_ten = await notifier.advance(timedelta(hours=1))
    [delayed] = at_half_past_ten.of(NotificationDelayed)
    assert delayed.template == "held_summary"
    assert delayed.until == datetime(2026, 11, 29, 7, 0, tzinfo=SHANGHAI)
    assert len(channels.sms.sent) == 1

    morning = await notifier.advance(delayed.until - notifier.clock.now())
    [told] = morning.of(NotificationSent)
    assert (told.template, told.summarised) == ("held_summary", 1)


async def test_the_limit_is_per_phone_and_the_desks_and_the_log_are_counted_apart() -> None:
    notifier, channels = scenario(channels="sms,log", max_per_recipient_per_hour=1)
    await notifier.given(
        volunteer_registered("vol-1", phone=VOLUNTEER_PHONE),
        volunteer_registered("vol-2", phone="13600000009"),
    )

    await notifier.when(visit_assigned("vol-1", visit_id="a"))
    second = await notifier.when(visit_assigned("vol-2", visit_id="b"))
    third = await notifier.when(visit_assigned("vol-1", visit_id="c"))

    assert [m.address for m in channels.sms.sent] == [VOLUNTEER_PHONE, "13600000009"]
    assert {n.channel for n in second.of(NotificationSent)} == {"sms", "log"}
    assert [n.channel for n in third.of(NotificationSent)] == ["log"], "the log is no phone"
    assert len(third.of(NotificationHeld)) == 1
    assert channels.sms.to(BRIGADE_PHONE) == []


def test_the_quota_grants_holds_and_summarises_in_order_and_once_per_notification() -> None:
    limit = RateLimit(2, timedelta(hours=1))
    now = scenario()[0].clock.now()
    notes = [_notification(f"n-{i}") for i in range(3)]
    contact = Contact(phone=VOLUNTEER_PHONE)
    quota: RecipientQuota | None = None
    for note in notes:
        change = admitted(
            quota, notification=note, contact=contact, channel="sms", limit=limit, now=now
        )
        assert change is not None
        quota = change.state

    assert quota is not None
    assert [g.notification_id for g in quota.granted] == ["n-0", "n-1"]
    assert quota.held == 1
    assert (
        admitted(quota, notification=notes[0], contact=contact, channel="sms", limit=limit, now=now)
        is None
    ), "a redelivered grant takes no second slot"
    assert summarised(quota, summary_id="s", limit=limit, now=now) is None, "no slot yet"
    freed = summarised(quota, summary_id="s", limit=limit, now=now + timedelta(hours=1))
    assert freed is not None
    assert freed.state.held == 0
    assert freed.state.last_summary is not None
    assert freed.state.last_summary.held == 1


def _notification(nid: str) -> NotificationState:
    return NotificationState.model_validate(
        {
            "notification_id": nid,
            "cause_id": "c",
            "cause_type": "outreach.visit_assigned",
            "recipient": {"kind": "volunteer", "id": "vol-1"},
            "channel": "sms",
            "template": "visit_assigned",
            "urgent": False,
            "created_at": "2026-06-03T09:30:00Z",
        }
    )


async def test_an_outreach_fact_naming_a_mediators_id_and_phone_changes_no_mediators_entry() -> (
    None
):
    notifier, channels = scenario(channels="sms")
    await notifier.given(
        readers.MediatorRegistered(mediator_id="med-1", name="吕调解员", phone="13500000004")
    )
    # an outreach fact (a volunteer registered under the mediator's id, another phone)
    await notifier.when(readers.VolunteerRegistered(volunteer_id="med-1", phone="13900000666"))
    # and a forged mediation fact sent from outreach's address
    topic, forged = notifier.envelope(
        readers.MediatorRegistered(mediator_id="med-1", phone="13900000667")
    )
    await notifier.when_raw(topic, forged.model_copy(update={"source": "/services/outreach"}))

    entry = await notifier.state("directory", "mediator:med-1", DirectoryEntry)
    assert entry is not None
    assert entry.contact.phone == "13500000004"
    await notifier.when(
        readers.MediatorAssigned(case_id="case-1", mediator_id="med-1", mediator_name="吕调解员")
    )
    assert [m.address for m in channels.sms.sent] == ["13500000004"]


async def test_a_phone_a_non_owner_names_in_its_cause_is_not_used() -> None:
    notifier, channels = scenario(channels="sms")
    await notifier.given(
        readers.MediatorRegistered(mediator_id="med-1", name="吕调解员", phone="13500000004")
    )
    topic, forged = notifier.envelope(
        readers.MediatorAssigned(
            case_id="case-9", mediator_id="med-1", mediator_phone="13900000668"
        )
    )

    await notifier.when_raw(topic, forged.model_copy(update={"source": "/services/outreach"}))

    assert [m.address for m in channels.sms.sent] == ["13500000004"]


async def test_a_fact_dated_in_the_future_does_not_lock_the_entry_it_changes() -> None:
    notifier, channels = scenario(channels="sms")
    topic, future = notifier.envelope(volunteer_registered("vol-1", phone="13600000001"))
    await notifier.when_raw(
        topic, future.model_copy(update={"time": notifier.clock.now() + timedelta(days=3650)})
    )
    notifier.clock.advance(timedelta(minutes=1))

    await notifier.when(volunteer_registered("vol-1", phone="13600000002"))
    await notifier.when(visit_assigned("vol-1"))

    entry = await notifier.state("directory", "volunteer:vol-1", DirectoryEntry)
    assert entry is not None
    assert entry.contact.phone == "13600000002", "the later received fact counts"
    assert entry.as_of == notifier.clock.now()
    assert [m.address for m in channels.sms.sent] == ["13600000002"]


async def test_phones_are_normalised_and_an_invalid_one_fails_for_good() -> None:
    notifier, channels = scenario(channels="sms")
    await notifier.given(
        readers.VolunteerRegistered(volunteer_id="vol-1", phone="+86 136-0000-0003"),
        readers.VolunteerRegistered(volunteer_id="vol-2", phone="12345"),
    )

    await notifier.when(visit_assigned("vol-1", visit_id="a"))
    bad = await notifier.when(visit_assigned("vol-2", visit_id="b"))

    assert [m.address for m in channels.sms.sent] == [VOLUNTEER_PHONE]
    [failed] = bad.of(NotificationFailed)
    assert (failed.recipient.id, failed.attempts) == ("vol-2", 1)
    assert failed.error.startswith("invalid phone number")
    assert timers_due(notifier) == [], "never retried"


async def test_an_email_address_with_a_comma_or_a_line_break_fails_for_good_and_is_logged() -> None:
    notifier, channels = scenario(channels="email")
    await notifier.given(
        readers.VolunteerRegistered(
            volunteer_id="vol-1", email="wang@station.internal,boss@evil.example"
        ),
        readers.VolunteerRegistered(
            volunteer_id="vol-2", email="wang@station.internal\r\nBcc: all@evil.example"
        ),
    )

    with structlog.testing.capture_logs() as logs:
        first = await notifier.when(visit_assigned("vol-1", visit_id="a"))
        second = await notifier.when(visit_assigned("vol-2", visit_id="b"))

    assert channels.email.sent == []
    failed = [*first.of(NotificationFailed), *second.of(NotificationFailed)]
    assert [(f.recipient.id, f.attempts) for f in failed] == [("vol-1", 1), ("vol-2", 1)]
    assert all(f.error.startswith("invalid e-mail address") for f in failed)
    assert timers_due(notifier) == [], "a permanent refusal is never retried"
    refused = [line for line in logs if line["event"] == "notification_refused"]
    assert len(refused) == 2
    assert "evil" not in str(refused[0]["address"])


async def test_without_a_gateway_only_the_log_is_used_and_it_writes_no_text() -> None:
    service = Service("notifier", NotifierSettings, wiring(channels_from), contract=messages)
    notifier: Scenario[NotifierSettings] = Scenario(service, duty_desk_phone="13700000120")
    settings = notifier.runtime.settings
    assert (settings.sms_gateway_url, settings.smtp_host) == ("", "")

    with structlog.testing.capture_logs() as logs:
        await notifier.given(volunteer_registered("vol-1", phone=VOLUNTEER_PHONE))
        outcome = await notifier.when(visit_assigned("vol-1"))

    assert [n.channel for n in outcome.of(NotificationSent)] == ["log"]
    [line] = [line for line in logs if line["event"] == "notification_logged"]
    assert set(line) == {
        "event",
        "log_level",
        "notification_id",
        "to",
        "template",
        "language",
        "segments",
    }
    assert line["to"] == "王*"
    assert published(notifier, NotificationFailed) == []


async def test_the_log_channel_masks_whoever_it_names() -> None:
    with structlog.testing.capture_logs() as logs:
        await LogChannel().send(
            Outgoing(
                notification_id="n-1",
                channel="log",
                address="13812345678",
                name=None,
                title="走访任务",
                text="【县公安局】王芳您好，请于2026-06-05前走访",
                segments=1,
                template="visit_assigned",
                language="zh",
            )
        )

    [line] = logs
    assert line["to"] == "138******78"
    assert "王芳" not in str(line)


def test_fakes_cover_every_channel() -> None:
    assert set(Channels().by_name()) == {"sms", "email", "log"}


async def test_the_mail_channel_itself_refuses_a_second_recipient_for_good() -> None:
    # port 9 (discard): nothing is listening, and nothing must be tried
    mail = SmtpMail("127.0.0.1", 9, "notifier@station.internal", "", "", False, False, 1)

    for address in ("a@station.internal, b@evil.example", "a@station.internal\r\nBcc: b@x.cn"):
        result = await mail.send(
            Outgoing(
                notification_id="n-1",
                channel="email",
                address=address,
                name="王芳\r\nBcc: c@evil.example",
                title="走访任务",
                text="【县公安局】",
                segments=1,
                template="visit_assigned",
                language="zh",
            )
        )
        assert isinstance(result, Failed)
        assert result.permanent, address
        assert result.error.startswith("not a single e-mail recipient")
    composed = mail.compose(
        Outgoing(
            "n-2",
            "email",
            "a@station.internal",
            "王芳\r\nBcc: c@evil.example",
            "t",
            "x",
            1,
            "visit_assigned",
            "zh",
        )
    )
    assert composed["To"] == "王芳 Bcc cevilexample <a@station.internal>", "one line, one address"
