"""The notifier as a process on real Kafka and FerretDB, sending to a real local SMS
gateway (HTTP) and mail sink (SMTP): each fact the contract lists reaches its recipients
in Chinese, once; retries end in one `notification_sent` or in `notification_failed`;
bad input is skipped with a reason and the consumer goes on."""

# the messages are Chinese, written with full-width commas and brackets
# ruff: noqa: RUF001

from collections import Counter

import pytest

from tests.integration.notifier_support import Notifier, fact, notifier, phone

__all__ = ["notifier"]  # the fixture

pytestmark = pytest.mark.integration
SENT = "notifier.notification_sent"


async def test_each_fact_the_contract_lists_reaches_its_recipients_in_chinese(
    notifier: Notifier,
) -> None:
    n = notifier
    officer, chem_a, volunteer, mediator, family = phone(), phone(), phone(), phone(), phone()
    await n.publish(
        n.enterprise_registered("chem-a", contact_phone=chem_a, officer_phone=officer),
        fact(
            "outreach",
            "volunteer_registered",
            n.id("vol"),
            {"volunteer_id": n.id("vol"), "name": "王芳", "phone": volunteer, "blocks": []},
        ),
        fact(
            "mediation",
            "mediator_registered",
            n.id("med"),
            {"mediator_id": n.id("med"), "name": "吕调解员", "phone": mediator},
        ),
    )
    await n.known(enterprise=1, officer=1, volunteer=1, mediator=1)
    case, request, campaign = n.id("case"), n.id("req"), n.id("camp")
    alert = n.over_capacity("leather", officer, officer_id=n.id("officer"))
    causes = [
        alert,
        fact(
            "enterprise",
            "redistribution_proposed",
            n.id("alert"),
            {
                "alert_id": n.id("alert"),
                "source_enterprise_id": n.id("leather"),
                "cas": "78-93-3",
                "surplus_kg": 10_000,
                "transfers": [
                    {
                        "transfer_id": n.id("transfer"),
                        "to_enterprise_id": n.id("chem-a"),
                        "to_name": "chem-a",
                        "quantity_kg": 6_000,
                        "distance_km": 3,
                    }
                ],
                "unallocated_kg": 0,
            },
        ),
        fact(
            "enterprise",
            "redistribution_escalated",
            n.id("alert"),
            {
                "alert_id": n.id("alert"),
                "enterprise_id": n.id("leather"),
                "cas": "78-93-3",
                "unallocated_kg": 4_000,
                "reason": "declined",
            },
        ),
        fact(
            "mediation",
            "mediator_assigned",
            case,
            {
                "case_id": case,
                "mediator_id": n.id("med"),
                "mediator_name": "吕调解员",
                "mediator_phone": mediator,
                "reason": "specialty",
            },
        ),
        fact(
            "mediation",
            "session_overdue",
            case,
            {"case_id": case, "mediator_id": n.id("med"), "opened_at": "2026-11-25T09:00:00+08:00"},
        ),
        fact(
            "mediation",
            "case_escalated",
            case,
            {"case_id": case, "reason": "no_agreement", "referred_to": "court"},
        ),
        fact(
            "outreach",
            "visit_assigned",
            n.id("visit"),
            {
                "visit_id": n.id("visit"),
                "campaign_id": campaign,
                "volunteer_id": n.id("vol"),
                "volunteer_name": "王芳",
                "household_id": "hh-0712",
                "block": "block-07",
                "priority": 3,
                "topics": ["telecom_fraud"],
                "due_by": "2026-12-01",
            },
        ),
        fact(
            "outreach",
            "coverage_gap_detected",
            campaign,
            {"campaign_id": campaign, "block": "block-09", "households_unassigned": 4},
        ),
        fact(
            "outreach",
            "home_service_scheduled",
            request,
            {
                "request_id": request,
                "service": "id_card_replacement",
                "appointment_date": "2026-12-02",
                "officer_id": "officer-9",
                "address": "水阁街道三岩寺路12号",
                "block": "block-02",
                "requested_by": {"name": "陈先生", "relation": "son", "phone": family},
            },
        ),
    ]
    await n.publish(*causes)

    [to_officer] = await n.sms_to(officer)
    [to_chem_a] = await n.sms_to(chem_a)
    [to_volunteer] = await n.sms_to(volunteer)
    [to_mediator] = await n.sms_to(mediator)
    [to_family] = await n.sms_to(family)
    # the desks also hear of other tests' facts: these name this test's ids
    brigade = [
        *await n.sms_to(n.brigade_phone, about=n.label("leather")),
        *await n.sms_to(n.brigade_phone, about=n.id("leather")),
    ]
    desk = [
        *await n.sms_to(n.desk_phone, count=2, about=case),
        *await n.sms_to(n.desk_phone, about=campaign),
    ]
    brigade_mail = [
        *await n.mail_to(n.brigade_email, about=n.label("leather")),
        *await n.mail_to(n.brigade_email, about=n.id("leather")),
    ]
    desk_mail = await n.mail_to(n.desk_email, count=2, about=case)

    assert to_officer["text"] == (
        f"【县公安局】{n.label('leather')}合成革丁酮库存30吨，许可20吨，超出10吨，请尽快核查处置。"
    )
    assert "调剂CAS 78-93-3，数量6吨" in to_chem_a["text"]
    assert "走访block-07住户hh-0712，宣传防电信诈骗" in to_volunteer["text"]
    assert f"调解案件{case}已指派给您" in to_mediator["text"]
    assert "身份证补办已预约2026-12-02上门办理" in to_family["text"]
    assert sorted(m["template"] for m in brigade) == [
        "over_capacity_brigade",
        "redistribution_escalated",
    ]
    assert sorted(m["template"] for m in desk) == [
        "case_escalated",
        "coverage_gap",
        "session_overdue",
    ]
    assert sorted(m["subject"] for m in brigade_mail) == ["危化品超量预警", "调剂升级"]
    assert sorted(m["subject"] for m in desk_mail) == ["调解升级", "调解超期"]
    assert f"调解案件{case}因多次调解未达成协议升级，移交法院" in str(desk)
    mine = [to_officer, to_chem_a, to_volunteer, to_mediator, to_family, *brigade, *desk]
    assert all(m["text"].startswith("【县公安局】") for m in [*mine, *brigade_mail, *desk_mail])
    assert all(m["language"] == "zh" and m["segments"] == 1 for m in mine)
    # each SMS carried its notification's id as the idempotency key, with the token
    sent = await n.facts("notifier.notification_sent", {c.id for c in causes}, count=25)
    sms_sent = {e["data"]["notification_id"] for e in sent if e["data"]["channel"] == "sms"}
    assert sms_sent == {m["key"] for m in mine}
    assert {e["data"]["cause_id"] for e in sent} == {c.id for c in causes}
    assert {r["status"] for r in n.gateway.requests if r["key"] in sms_sent} == {200}
    channels = Counter(e["data"]["channel"] for e in sent)
    assert channels == {"sms": 10, "email": 5, "log": 10}
    skipped = await n.facts("notifier.notification_skipped", {c.id for c in causes}, count=5)
    assert {(e["data"]["channel"], e["data"]["reason"]) for e in skipped} == {
        ("email", "no_contact")
    }
    stats = await n.stats()  # this deployment's figures, other tests' facts included
    assert stats["by_channel"]["sms"]["sent"] >= 10
    assert stats["by_template"]["over_capacity_officer"]["skipped"] >= 1
    assert stats["skipped_by_reason"]["no_contact"] >= 5


async def test_the_same_fact_delivered_twice_sends_nothing_twice(notifier: Notifier) -> None:
    n = notifier
    officer = phone()
    alert = n.over_capacity("leather", officer, officer_id=n.id("officer"))
    await n.publish(alert)
    await n.sms_to(officer)
    await n.facts(SENT, {alert.id}, count=5)

    later = n.over_capacity("leather", officer, officer_id=n.id("officer"))
    await n.publish(alert, alert, later)  # the same key: read in this order
    await n.sms_to(officer, count=2)
    sent = await n.facts(SENT, {alert.id, later.id}, count=10)

    keys = [r["key"] for r in n.gateway.requests if r["to"] == officer]
    assert len(keys) == 2 == len(set(keys)), "one request per notification, none repeated"
    brigade = [r for r in n.gateway.requests if r["to"] == n.brigade_phone]
    assert len({r["key"] for r in brigade}) == len(brigade), "no key sent twice"
    assert len(sent) == 10 == len({e["data"]["notification_id"] for e in sent})


@pytest.mark.service_env({"NOTIFIER_CHANNELS": "sms"})
async def test_a_gateway_refusing_three_times_then_taking_it_ends_in_one_sent(
    notifier: Notifier,
) -> None:
    n = notifier
    n.gateway.fail_first = 3
    officer = phone()

    alert = n.over_capacity("leather", officer, officer_id=n.id("officer"))
    await n.publish(alert)
    [sms] = await n.sms_to(officer, timeout_s=30)
    sent = await n.facts(SENT, {alert.id}, count=2)

    [to_officer] = [e for e in sent if e["data"]["recipient"]["id"] == n.id("officer")]
    assert to_officer["data"]["attempts"] == 4
    assert [r["status"] for r in n.gateway.requests if r["key"] == sms["key"]] == [
        500,
        500,
        500,
        200,
    ]
    assert sms["key"] == to_officer["data"]["notification_id"]
    assert n.tail.of_type("notifier.notification_failed", cause_id=alert.id) == []
    stats = await n.stats()
    assert stats["by_channel"]["sms"]["retried"] >= 6


@pytest.mark.service_env({"NOTIFIER_CHANNELS": "sms,log", "NOTIFIER_MAX_ATTEMPTS": "3"})
async def test_a_gateway_that_always_fails_ends_in_notification_failed(notifier: Notifier) -> None:
    n = notifier
    n.gateway.always_fail = True
    officer = phone()

    alert = n.over_capacity("leather", officer, officer_id=n.id("officer"))
    await n.publish(alert)
    failed = await n.facts("notifier.notification_failed", {alert.id}, count=2)

    assert {(e["data"]["channel"], e["data"]["attempts"]) for e in failed} == {("sms", 3)}
    assert all("answered 500" in e["data"]["error"] for e in failed)
    keys = {e["data"]["notification_id"] for e in failed}
    assert [m for m in n.gateway.messages if m["key"] in keys] == []
    assert len([r for r in n.gateway.requests if r["key"] in keys]) == 6
    logged = await n.facts(SENT, {alert.id}, count=2)
    assert {e["data"]["channel"] for e in logged} == {"log"}, "the log channel still works"


@pytest.mark.service_env({"NOTIFIER_CHANNELS": "sms"})
async def test_a_fact_missing_the_recipients_id_is_skipped_and_the_consumer_goes_on(
    notifier: Notifier,
) -> None:
    n = notifier
    officer = phone()
    no_officer_id = n.over_capacity("leather", officer, officer_id=None)
    not_even_valid = fact("enterprise", "over_capacity_detected", n.id("leather"), {"cas": "x"})
    good = n.over_capacity("leather", officer, officer_id=n.id("officer"))

    await n.publish(no_officer_id, not_even_valid, good)
    [skipped] = await n.facts("notifier.notification_skipped", {no_officer_id.id}, count=1)
    await n.sms_to(officer)
    sent = await n.facts(SENT, {no_officer_id.id, good.id}, count=3)

    assert skipped["data"]["reason"] == "missing_recipient_id"
    assert skipped["data"]["recipient"] == {"kind": "officer", "id": None}
    assert skipped["data"]["cause_id"] == no_officer_id.id
    assert "names no officer id" in skipped["data"]["detail"]
    # the brigade heard of both alerts; the officer of the good one only
    assert {(e["data"]["cause_id"], e["data"]["recipient"]["kind"]) for e in sent} == {
        (no_officer_id.id, "desk"),
        (good.id, "desk"),
        (good.id, "officer"),
    }
    stats = await n.stats()
    assert stats["skipped_by_reason"]["missing_recipient_id"] >= 1
