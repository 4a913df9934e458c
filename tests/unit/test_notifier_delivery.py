"""The notifier's delivery rules in memory, on an injected clock: retries with capped
exponential backoff as timers, giving up, quiet hours, a crash between the channel call
and its record, a failing channel not blocking the consumer, and /stats."""

import contextlib
from datetime import datetime, timedelta, timezone

from services.notifier.channels import LogChannel, Outgoing
from services.notifier.domain import Delivered, Failed
from services.notifier.messages import (
    NotificationDelayed,
    NotificationFailed,
    NotificationSent,
)
from services.notifier.settings import NotifierSettings
from shared.testing import Outcome, Scenario
from tests.unit.test_notifier_support import (
    BRIGADE_PHONE,
    OFFICER_PHONE,
    Channels,
    FakeChannel,
    enterprise_registered,
    over_capacity,
    proposed,
    published,
    run_timers,
    scenario,
    timers_due,
    visit_assigned,
    volunteer_registered,
)

CST = timezone(timedelta(hours=8))


async def _fire_each_timer(
    notifier: Scenario[NotifierSettings],
) -> tuple[list[timedelta], Outcome]:
    """Advance to each next timer until none is left; the waits, and what was published."""
    waits, events = [], []
    while timers := timers_due(notifier):
        wait = timers[0][1] - notifier.clock.now()
        waits.append(wait)
        events += (await notifier.advance(wait)).events
    return waits, Outcome(events)


async def test_a_gateway_failing_three_times_then_taking_it_ends_in_one_sent() -> None:
    notifier, channels = scenario(Channels(sms=FakeChannel(failures=3)), channels="sms")

    await notifier.given(volunteer_registered("vol-1"))
    first = await notifier.when(visit_assigned("vol-1"))
    waits, retries = await _fire_each_timer(notifier)

    assert first.of(NotificationSent) == [], "the first attempt failed"
    [sent] = retries.of(NotificationSent)
    assert (sent.recipient.id, sent.channel, sent.attempts) == ("vol-1", "sms", 4)
    assert channels.sms.calls[sent.notification_id] == 4
    assert len(channels.sms.sent) == 1
    assert waits == [timedelta(seconds=s) for s in (10, 20, 40)]
    assert retries.of(NotificationFailed) == []
    stats = await notifier.stats()
    assert stats["by_channel"]["sms"] == {"sent": 1, "retried": 3}
    assert stats["by_template"]["visit_assigned"] == {"sent": 1, "retried": 3}


async def test_a_gateway_that_always_fails_ends_in_failed_after_capped_backoff() -> None:
    notifier, channels = scenario(
        Channels(sms=FakeChannel(always=True)), channels="sms", max_attempts=6
    )
    await notifier.given(volunteer_registered("vol-1"))

    await notifier.when(visit_assigned("vol-1"))
    waits, retries = await _fire_each_timer(notifier)

    [failed] = retries.of(NotificationFailed)
    assert (failed.recipient.id, failed.channel, failed.attempts) == ("vol-1", "sms", 6)
    assert failed.error == "gateway answered 500"
    assert failed.template == "visit_assigned"
    assert failed.language == "zh"
    # 10 s, doubling, capped at retry_max_s = 60 s
    assert waits == [timedelta(seconds=s) for s in (10, 20, 40, 60, 60)]
    assert sum(channels.sms.calls.values()) == 6
    stats = await notifier.stats()
    assert (stats["failed"], stats["retried"], stats["sent"]) == (1, 5, 0)


async def test_a_permanent_refusal_fails_at_once_without_retries() -> None:
    notifier, channels = scenario(Channels(sms=FakeChannel(always=True, permanent=True)))

    outcome = await notifier.when(over_capacity())

    failed = outcome.of(NotificationFailed)
    assert {(f.recipient.id, f.channel, f.attempts) for f in failed} == {
        ("officer-lu", "sms", 1),
        ("hazchem_brigade", "sms", 1),
    }
    assert timers_due(notifier) == []
    assert sum(channels.sms.calls.values()) == 2


async def test_a_failing_channel_is_not_tried_inline_again_until_its_backoff_passed() -> None:
    notifier, channels = scenario(Channels(sms=FakeChannel(outage=1)))
    await notifier.when(over_capacity(alert_id="a-1"))

    second = await notifier.when(over_capacity(alert_id="a-2"))

    # the first SMS failed: the three after it went straight to timers, while the other
    # channels carried on inline
    assert sum(channels.sms.calls.values()) == 1
    assert {n.channel for n in second.of(NotificationSent)} == {"email", "log"}
    assert {due for _, due in timers_due(notifier)} == {
        notifier.clock.now() + timedelta(seconds=10)
    }
    later = await run_timers(notifier)
    assert {n.channel for n in later.of(NotificationSent)} == {"sms"}
    assert len(later.of(NotificationSent)) == 4
    assert len(channels.sms.to(OFFICER_PHONE)) == 2
    assert len(channels.sms.to(BRIGADE_PHONE)) == 2


class Killed(BaseException):
    """Stands for the process dying in the middle of a channel call."""


class DiesAfterTheGatewayTookIt:
    """A gateway that honours the idempotency key; on the call number `die_at` the
    service 'dies' after the gateway took the message, before the notifier recorded it."""

    def __init__(self, die_at: int, fail_first: int = 0) -> None:
        self.die_at, self.fail_first = die_at, fail_first
        self.shown: dict[str, Outgoing] = {}
        self.requests: list[str] = []

    async def send(self, message: Outgoing) -> Delivered | Failed:
        self.requests.append(message.notification_id)
        if len(self.requests) <= self.fail_first:
            return Failed("gateway answered 500")
        self.shown.setdefault(message.notification_id, message)
        if len(self.requests) == self.die_at:
            raise Killed
        return Delivered()


async def test_killed_between_send_and_record_the_redelivered_fact_resends_the_same_key() -> None:
    gateway = DiesAfterTheGatewayTookIt(die_at=1)
    notifier, _ = scenario(senders={"sms": gateway, "log": LogChannel()}, channels="sms,log")

    with contextlib.suppress(Killed):
        await notifier.when(over_capacity(), id="alert-event-1")
    redelivered = await notifier.when(over_capacity(), id="alert-event-1")

    [officer_sms] = [
        n
        for n in redelivered.of(NotificationSent)
        if (n.recipient.id, n.channel) == ("officer-lu", "sms")
    ]
    assert gateway.requests.count(officer_sms.notification_id) == 2, "sent again, same key"
    assert [m.address for m in gateway.shown.values()] == [OFFICER_PHONE, BRIGADE_PHONE]
    assert officer_sms.attempts == 1
    assert len(published(notifier, NotificationSent)) == 4  # sms and log, two recipients


async def test_killed_during_a_retry_the_timer_fires_again_and_resends_the_same_key() -> None:
    gateway = DiesAfterTheGatewayTookIt(die_at=2, fail_first=1)
    notifier, _ = scenario(senders={"sms": gateway}, channels="sms", timer_lease_s=30)
    await notifier.given(volunteer_registered("vol-1"))
    await notifier.when(visit_assigned("vol-1"))

    with contextlib.suppress(Killed):
        await notifier.advance(timedelta(seconds=10))
    again = await notifier.advance(timedelta(seconds=31))  # the claim's lease ran out

    [sent] = again.of(NotificationSent)
    assert gateway.requests == [sent.notification_id] * 3
    assert len(gateway.shown) == 1
    assert sent.attempts == 2


async def test_quiet_hours_hold_back_a_volunteers_visit_until_seven_but_not_an_alert() -> None:
    notifier, channels = scenario(start=datetime(2026, 11, 28, 23, 10, tzinfo=CST))
    await notifier.given(volunteer_registered("vol-1", phone="13600000003"))

    visit = await notifier.when(visit_assigned("vol-1"))
    alert = await notifier.when(over_capacity())

    delayed = visit.of(NotificationDelayed)
    assert {d.channel for d in delayed} == {"sms", "log"}  # no e-mail address: skipped
    assert {d.until for d in delayed} == {datetime(2026, 11, 29, 7, 0, tzinfo=CST)}
    assert channels.sms.to("13600000003") == []
    assert len(channels.sms.to(OFFICER_PHONE)) == 1, "alerts are never delayed"
    assert alert.of(NotificationDelayed) == []

    await notifier.advance(timedelta(hours=7, minutes=49))
    assert channels.sms.to("13600000003") == []
    morning = await notifier.advance(timedelta(minutes=1))

    [sms] = channels.sms.to("13600000003")
    assert "走访block-07住户hh-0712" in sms.text
    assert ("vol-1", "sms") in {(n.recipient.id, n.channel) for n in morning.of(NotificationSent)}
    stats = await notifier.stats()
    assert stats["by_template"]["visit_assigned"] == {"sent": 2, "skipped": 1, "delayed": 2}


async def test_quiet_hours_end_at_seven_for_a_proposal_to_an_enterprise() -> None:
    notifier, channels = scenario(start=datetime(2026, 11, 29, 6, 59, tzinfo=CST))
    await notifier.given(enterprise_registered("chem-a", phone="13900000011"))

    before = await notifier.when(proposed(("chem-a", 6_000)))
    notifier.clock.advance(timedelta(minutes=1))
    at_seven = await notifier.when(proposed(("chem-a", 1_000)))

    assert before.of(NotificationDelayed) != []
    assert at_seven.of(NotificationDelayed) == []
    [first] = channels.sms.to("13900000011")
    assert "数量1吨" in first.text
    await notifier.advance(timedelta(0))
    assert ["数量1吨" in m.text for m in channels.sms.to("13900000011")] == [True, False]


async def test_quiet_hours_and_who_they_hold_back_are_settings() -> None:
    notifier, channels = scenario(
        start=datetime(2026, 11, 28, 13, 0, tzinfo=CST),
        quiet_hours_start="12:00",
        quiet_hours_end="14:00",
        quiet_kinds="volunteer,requester",
    )
    await notifier.given(volunteer_registered("vol-1", phone="13600000003"))

    visit = await notifier.when(visit_assigned("vol-1"))

    assert {d.until for d in visit.of(NotificationDelayed)} == {
        datetime(2026, 11, 28, 14, 0, tzinfo=CST)
    }
    assert channels.sms.sent == []
