"""The seed's first alert end to end, the enterprise and notifier services as processes:
a purchase that puts an enterprise over its permit reaches its liaison officer as an SMS
at the local gateway, and the brigade by SMS and e-mail, in Chinese."""

import time
from typing import Any

import pytest

from tests.integration.enterprise_support import BUTANONE, CAT3, Enterprise
from tests.integration.notifier_support import Notifier, contract_enterprise, notifier, phone
from tests.support import command

__all__ = ["contract_enterprise", "notifier"]  # the fixtures

pytestmark = pytest.mark.integration


async def test_a_purchase_over_the_permit_reaches_the_liaison_officers_phone(
    contract_enterprise: Enterprise, notifier: Notifier
) -> None:
    enterprise = contract_enterprise
    officer = phone()
    eid = enterprise.id("leather")
    await enterprise.send(
        command(
            "enterprise.register_enterprise",
            eid,
            {
                "enterprise_id": eid,
                "name": f"丽水合成革{enterprise.suffix[-4:]}",
                "address": "丽水市莲都区水阁工业区",
                "location": {"lat": 28.45, "lon": 119.92},
                "licences": CAT3,
                "liaison_officer": {
                    "officer_id": f"officer-{eid}",
                    "name": "吕警官",
                    "phone": officer,
                },
                "contact": {"name": "厂长", "phone": phone()},
                "storage": [{"cas": BUTANONE, "capacity_kg": 20_000}],
            },
        )
    )
    await enterprise.tail.wait_for("enterprise.enterprise_registered", enterprise_id=eid)
    purchase = enterprise.inventory("leather", "purchase", 30_000)

    sent_at = time.time()
    await enterprise.send(purchase)
    [sms] = await notifier.sms_to(officer)
    [alert] = await enterprise.tail.wait_for("enterprise.over_capacity_detected", enterprise_id=eid)
    brigade = await notifier.sms_to(notifier.brigade_phone, about=alert["data"]["enterprise_name"])
    mail = await notifier.mail_to(notifier.brigade_email, about=alert["data"]["enterprise_name"])

    name = alert["data"]["enterprise_name"]
    assert sms["text"] == (
        f"【县公安局】{name}丁酮库存30吨，许可20吨，超出10吨，请尽快核查处置。"  # noqa: RUF001
    )
    assert sms["received_at"] - sent_at < 30
    assert [m["template"] for m in brigade] == ["over_capacity_brigade"]
    assert [m["subject"] for m in mail] == ["危化品超量预警"]
    [told] = await _officer_sms(notifier, alert["id"])
    assert told["data"]["notification_id"] == sms["key"]
    assert told["correlationid"] == purchase.id, "the purchase started this story"


async def _officer_sms(n: Notifier, cause_id: str) -> list[Any]:
    sent = await n.facts("notifier.notification_sent", {cause_id}, count=5)
    return [
        e
        for e in sent
        if e["data"]["recipient"]["kind"] == "officer" and e["data"]["channel"] == "sms"
    ]
