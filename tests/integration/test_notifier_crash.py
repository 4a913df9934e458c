"""The notifier killed (SIGKILL) after the SMS gateway took a message and before the
notifier recorded it: restarted, it sends again with the same idempotency key, and the
local gateway, which honours the key, shows the message once (real Kafka and FerretDB)."""

import asyncio
from typing import Any

import pytest

from tests.integration.notifier_support import Notifier, notifier, phone

__all__ = ["notifier"]  # the fixture

pytestmark = pytest.mark.integration
SENT = "notifier.notification_sent"


@pytest.mark.service_env({"NOTIFIER_CHANNELS": "sms"})
async def test_killed_between_send_and_record_a_restart_never_shows_the_sms_twice(
    notifier: Notifier,
) -> None:
    n = notifier
    officer = phone()
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hold_the_first_answer(message: dict[str, Any]) -> None:
        if message["to"] == officer and not arrived.is_set():
            arrived.set()
            await release.wait()

    n.gateway.before_reply = hold_the_first_answer
    alert = n.over_capacity("leather", officer, officer_id=n.id("officer"))
    await n.publish(alert)
    await asyncio.wait_for(arrived.wait(), timeout=60)
    await n.service.kill()  # the gateway has the SMS; the notifier never heard back
    release.set()

    await n.restart()
    sent = await n.tail.wait_for("notifier.notification_sent", count=2, cause_id=alert.id)

    [to_officer] = [e for e in sent if e["data"]["recipient"]["kind"] == "officer"]
    key = to_officer["data"]["notification_id"]
    requests = [r for r in n.gateway.requests if r["to"] == officer]
    assert [(r["key"], r["status"]) for r in requests] == [(key, 200), (key, 200)]
    assert len(n.gateway.to(officer)) == 1, "the gateway shows it once"
    assert to_officer["data"]["attempts"] == 1
    assert to_officer["data"]["cause_id"] == alert.id
    ids = [e["data"]["notification_id"] for e in n.tail.of_type(SENT, cause_id=alert.id)]
    assert len(ids) == len(set(ids)) == 2, "each notification_sent once"
