"""The notifier's rules through its real wiring, in memory (shared.testing): who is told
about each fact the contract lists, in which words, once; the directory; bad input.

Delivery on the real broker, server, SMS gateway and mail sink is tested in
tests/integration/test_notifier*.py.
"""

# the messages are Chinese, written with full-width commas and brackets
# ruff: noqa: RUF001

import pytest

from services.notifier import readers
from services.notifier.messages import (
    NotificationDelayed,
    NotificationSent,
    NotificationSkipped,
)
from services.notifier.state import NotificationState
from shared import Fact
from tests.unit.test_notifier_support import (
    BRIGADE_PHONE,
    DESK_PHONE,
    OFFICER_PHONE,
    enterprise_registered,
    escalated,
    home_service_scheduled,
    mediator_assigned,
    over_capacity,
    proposed,
    run_timers,
    scenario,
    visit_assigned,
    volunteer_registered,
)


def sent_to(outcome_facts: list[NotificationSent]) -> set[tuple[str, str, str, str]]:
    return {(n.recipient.kind, n.recipient.id, n.channel, n.template) for n in outcome_facts}


async def test_an_alert_tells_the_liaison_officer_and_the_brigade_in_chinese() -> None:
    notifier, channels = scenario()

    outcome = await notifier.when(over_capacity(), id="alert-event-1")

    [to_officer] = channels.sms.to(OFFICER_PHONE)
    [to_brigade] = channels.sms.to(BRIGADE_PHONE)
    [mail] = channels.email.to("hazchem-brigade@station.internal")
    assert to_officer.text == (
        "【县公安局】丽水合成革有限公司丁酮库存30吨，许可20吨，超出10吨，请尽快核查处置。"
    )
    assert to_officer.segments == 1
    assert "吕警官" in to_brigade.text
    assert "超出许可10吨" in to_brigade.text
    assert mail.title == "危化品超量预警"
    assert mail.text == to_brigade.text
    sent = outcome.of(NotificationSent)
    assert sent_to(sent) == {
        ("officer", "officer-lu", "sms", "over_capacity_officer"),
        ("officer", "officer-lu", "log", "over_capacity_officer"),
        ("desk", "hazchem_brigade", "sms", "over_capacity_brigade"),
        ("desk", "hazchem_brigade", "email", "over_capacity_brigade"),
        ("desk", "hazchem_brigade", "log", "over_capacity_brigade"),
    }
    assert {n.cause_id for n in sent} == {"alert-event-1"}
    assert {n.cause_type for n in sent} == {"enterprise.over_capacity_detected"}
    assert {(n.language, n.attempts) for n in sent} == {("zh", 1)}
    [no_mail] = outcome.of(NotificationSkipped)
    assert (no_mail.recipient.id, no_mail.channel, no_mail.reason) == (
        "officer-lu",
        "email",
        "no_contact",
    )


async def test_the_same_fact_delivered_twice_or_a_month_later_sends_nothing_twice() -> None:
    notifier, channels = scenario()
    first = await notifier.when(over_capacity(), id="alert-event-1")
    # a month later the service has forgotten it handled the message (dedupe window):
    # the notifications themselves are the unique key
    notifier.db["processed"].docs.clear()

    again = await notifier.when(over_capacity(), id="alert-event-1")
    other_cause = await notifier.when(over_capacity(alert_id="alert-2"), id="alert-event-2")

    assert len(first.of(NotificationSent)) == 5
    assert again.of(NotificationSent) == []
    assert len(channels.sms.to(OFFICER_PHONE)) == 2  # once per cause
    assert len(other_cause.of(NotificationSent)) == 5
    assert set(channels.sms.calls.values()) == {1}


PROPOSAL = proposed(("chem-a", 6_000), ("chem-b", 4_000))
CASES: list[tuple[Fact, str, str, str, str]] = [
    # (fact, recipient kind, recipient id, template, a phrase of the SMS)
    (PROPOSAL, "enterprise", "chem-a", "transfer_proposed", "调剂CAS 78-93-3，数量6吨"),
    (escalated(), "desk", "hazchem_brigade", "redistribution_escalated", "尚有2.5吨无法调剂"),
    (mediator_assigned(), "mediator", "mediator-lv", "mediator_assigned", "案件case-0042"),
    (
        readers.SessionOverdue(case_id="case-0042", opened_at="2026-06-03T09:30:00+08:00"),
        "desk",
        "duty_desk",
        "session_overdue",
        "（2026-06-03立案）超时未调解",
    ),
    (
        readers.CaseEscalated(case_id="case-0042", reason="no_agreement", referred_to="court"),
        "desk",
        "duty_desk",
        "case_escalated",
        "因多次调解未达成协议升级，移交法院",
    ),
    (visit_assigned("vol-1"), "volunteer", "vol-1", "visit_assigned", "宣传防电信诈骗、防养老诈骗"),
    (
        readers.CoverageGapDetected(
            campaign_id="camp-9", block="block-07", households_unassigned=12
        ),
        "desk",
        "duty_desk",
        "coverage_gap",
        "block-07有12户无志愿者可派",
    ),
    (home_service_scheduled(), "requester", "req-1", "home_service_scheduled", "身份证补办"),
]


@pytest.mark.parametrize(("fact", "kind", "rid", "template", "phrase"), CASES)
async def test_each_fact_the_contract_lists_tells_its_recipient(
    fact: Fact, kind: str, rid: str, template: str, phrase: str
) -> None:
    notifier, channels = scenario()
    await notifier.given(
        enterprise_registered("chem-a", phone="13900000011"),
        enterprise_registered("chem-b", phone="13900000012"),
        volunteer_registered("vol-1", phone="13600000003"),
    )

    outcome = await notifier.when(fact)

    sms = [n for n in outcome.of(NotificationSent) if n.channel == "sms"]
    assert (kind, rid, "sms", template) in sent_to(sms)
    texts = [m.text for m in channels.sms.sent]
    assert any(phrase in text for text in texts), texts
    assert all(text.startswith("【县公安局】") for text in texts)
    assert all(m.segments == 1 for m in channels.sms.sent)


async def test_a_proposal_tells_each_recipient_enterprise_at_its_registered_phone() -> None:
    notifier, channels = scenario()
    await notifier.given(
        enterprise_registered("chem-a", phone="13900000011"),
        enterprise_registered("chem-b", phone="13900000012"),
    )

    await notifier.when(PROPOSAL)

    [to_a] = channels.sms.to("13900000011")
    [to_b] = channels.sms.to("13900000012")
    assert "数量6吨（单号transfer-chem-a）" in to_a.text
    assert "数量4吨" in to_b.text
    assert to_a.name == "chem-a经理"


async def test_the_desks_are_reached_on_every_configured_channel() -> None:
    notifier, channels = scenario()

    await notifier.when(
        readers.CaseEscalated(case_id="c-1", reason="overdue", referred_to="station")
    )

    assert len(channels.sms.to(DESK_PHONE)) == 1
    assert len(channels.email.to("duty-desk@station.internal")) == 1
    assert [m.name for m in channels.log.sent] == ["派出所值班台"]


async def test_a_fact_missing_the_recipients_id_is_skipped_with_a_reason_and_the_next_is_told() -> (
    None
):
    notifier, channels = scenario()

    bad = await notifier.when(over_capacity(officer_id=None), id="bad-alert")
    good = await notifier.when(visit_assigned(None))
    after = await notifier.when(over_capacity(alert_id="alert-2"))

    skipped = [s for s in bad.of(NotificationSkipped) if s.reason == "missing_recipient_id"]
    assert [(s.recipient.kind, s.recipient.id, s.channel) for s in skipped] == [
        ("officer", None, None)
    ]
    assert "names no officer id" in skipped[0].detail
    assert {s.reason for s in good.of(NotificationSkipped)} == {"missing_recipient_id"}
    # the brigade is still told about the bad alert, and the next alert goes through
    assert ("desk", "hazchem_brigade", "sms", "over_capacity_brigade") in sent_to(
        bad.of(NotificationSent)
    )
    assert len(after.of(NotificationSent)) == 5
    assert len(channels.sms.to(OFFICER_PHONE)) == 1  # the good alert's only


async def test_a_recipient_with_no_phone_is_skipped_not_retried() -> None:
    notifier, channels = scenario()

    outcome = await notifier.when(home_service_scheduled(phone=None))
    later = await run_timers(notifier)

    skipped = outcome.of(NotificationSkipped)
    assert {(s.channel, s.reason) for s in skipped} == {
        ("sms", "no_contact"),
        ("email", "no_contact"),
    }
    assert "requester req-1 has no phone" in [s.detail for s in skipped]
    assert channels.sms.calls == {}
    assert channels.email.calls == {}
    assert later.events == []
    assert len(channels.log.sent) == 1


async def test_a_volunteer_the_directory_learns_late_is_told_once_it_is_known() -> None:
    notifier, channels = scenario()
    early = await notifier.when(visit_assigned("vol-late"))
    assert early.of(NotificationSent)[0].channel == "log"
    await notifier.given(volunteer_registered("vol-late", phone="13600000099"))

    retried = await run_timers(notifier)

    assert [m.address for m in channels.sms.sent] == ["13600000099"]
    assert ("volunteer", "vol-late", "sms", "visit_assigned") in sent_to(
        retried.of(NotificationSent)
    )


async def test_a_recipient_the_directory_never_learns_is_skipped_after_the_attempts() -> None:
    notifier, _ = scenario(max_attempts=3)
    await notifier.when(visit_assigned("vol-ghost"))

    later = await run_timers(notifier)

    skipped = later.of(NotificationSkipped)
    assert [(s.channel, s.reason) for s in skipped] == [
        ("sms", "unknown_recipient"),
        ("email", "unknown_recipient"),
    ]
    state = await notifier.state("notifications", skipped[0].notification_id, NotificationState)
    assert state is not None
    assert state.attempts == 3


async def test_english_for_a_recipient_configured_so() -> None:
    notifier, channels = scenario(languages={"officer:officer-lu": "en"})

    outcome = await notifier.when(over_capacity())

    [to_officer] = channels.sms.to(OFFICER_PHONE)
    assert to_officer.text == (
        "[County Police] 丽水合成革有限公司 holds 30 t of butanone, permitted 20 t: "
        "10 t over. Please check."
    )
    assert to_officer.segments == 2  # the Chinese name makes it UCS-2: 67 per part
    languages = {(n.recipient.id, n.language) for n in outcome.of(NotificationSent)}
    assert languages == {("officer-lu", "en"), ("hazchem_brigade", "zh")}
    assert not outcome.of(NotificationDelayed)
