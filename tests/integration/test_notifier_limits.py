"""The notifier as a process on real Kafka and FerretDB, against what a stranger could make
it do: send a burst of messages to one phone (held past the hourly limit, then one
summary), or mail an address that adds a recipient or a header (a permanent failure,
never retried)."""

# the messages are Chinese, written with full-width commas and brackets
# ruff: noqa: RUF001

import pytest

from shared._kit.envelope import CloudEvent
from tests.integration.notifier_support import Notifier, fact, notifier, phone
from tests.processes import ServiceProcess

__all__ = ["notifier"]  # the fixture

pytestmark = pytest.mark.integration
WINDOW_S = 8


def _visit(n: Notifier, volunteer_id: str, number: int) -> CloudEvent:
    visit_id = n.id(f"visit-{number}")
    return fact(
        "outreach",
        "visit_assigned",
        visit_id,
        {
            "visit_id": visit_id,
            "campaign_id": n.id("camp"),
            "volunteer_id": volunteer_id,
            "volunteer_name": "王芳",
            "household_id": f"hh-{number:04d}",
            "block": "block-07",
            "priority": 1,
            "topics": ["telecom_fraud"],
            "due_by": "2026-12-01",
        },
    )


async def _register(n: Notifier, volunteer: str, number: str) -> None:
    """A volunteer with a phone, known to the notifier."""
    await n.publish(
        fact(
            "outreach",
            "volunteer_registered",
            volunteer,
            {"volunteer_id": volunteer, "name": "王芳", "phone": number, "blocks": []},
        )
    )
    await n.known(volunteer=1)


@pytest.mark.service_env(
    {
        "NOTIFIER_CHANNELS": "sms",
        "NOTIFIER_MAX_PER_RECIPIENT_PER_HOUR": "2",
        "NOTIFIER_RATE_WINDOW_S": str(WINDOW_S),
    }
)
async def test_a_burst_to_one_phone_sends_the_limit_holds_the_rest_then_one_summary(
    notifier: Notifier,
) -> None:
    n = notifier
    number, volunteer = phone(), n.id("vol")
    await _register(n, volunteer, number)
    visits = [_visit(n, volunteer, k) for k in range(5)]

    await n.publish(*visits)
    held = await n.tail.wait_for("notifier.notification_held", count=3, timeout_s=60)
    [summary] = await n.sms_to(number, about="另有", timeout_s=WINDOW_S + 60)

    sent = n.gateway.to(number)
    assert len(sent) == 3, "two visits, then the summary"
    assert summary["text"] == (
        "【县公安局】另有3条通知因一小时内发送过多未单独发送，请登录工作台查看。"
    )
    assert sorted(h["data"]["held"] for h in held) == [1, 2, 3]
    assert {h["data"]["recipient"]["id"] for h in held} == {volunteer}
    [told] = await n.tail.wait_for("notifier.notification_sent", template="held_summary")
    assert (told["data"]["summarised"], told["data"]["recipient"]["id"]) == (3, volunteer)
    [first, second] = sent[:2]
    assert summary["received_at"] - first["received_at"] >= WINDOW_S - 1
    assert second["received_at"] - first["received_at"] < WINDOW_S
    stats = await n.stats()
    assert stats["held"] == 3


@pytest.mark.service_env({"NOTIFIER_CHANNELS": "email", "NOTIFIER_MAX_ATTEMPTS": "5"})
async def test_an_address_adding_a_recipient_or_a_header_fails_once_for_good(
    notifier: Notifier,
) -> None:
    n = notifier
    comma, crlf, good = n.id("vol-comma"), n.id("vol-crlf"), n.id("vol-good")
    addresses = {
        comma: "wang@station.internal,boss@evil.example",
        crlf: "wang@station.internal\r\nBcc: everyone@evil.example",
        good: f"{good}@station.internal",
    }
    await n.publish(
        *[
            fact(
                "outreach",
                "volunteer_registered",
                vid,
                {"volunteer_id": vid, "name": "王芳", "email": email, "phone": phone()},
            )
            for vid, email in addresses.items()
        ]
    )
    await n.known(volunteer=3)
    visits = [_visit(n, vid, k) for k, vid in enumerate(addresses)]

    await n.publish(*visits)
    failed = await n.facts(
        "notifier.notification_failed",
        {v.id for v in visits},
        count=2,
    )
    await n.mail_to(f"{good}@station.internal")

    assert {(e["data"]["recipient"]["id"], e["data"]["attempts"]) for e in failed} == {
        (comma, 1),
        (crlf, 1),
    }, "refused at the first attempt, never retried as transient"
    assert all(e["data"]["error"].startswith("invalid e-mail address") for e in failed)
    assert all("evil" not in e["data"]["error"] for e in failed)
    assert [m["to"] for m in n.mail.messages] == [[f"{good}@station.internal"]]
    stats = await n.stats()
    assert stats["retried"] == 0


@pytest.mark.service_env(
    {
        "NOTIFIER_CHANNELS": "sms",
        "NOTIFIER_MAX_PER_RECIPIENT_PER_HOUR": "2",
        "NOTIFIER_RATE_WINDOW_S": str(WINDOW_S),
    }
)
async def test_two_replicas_share_one_phones_limit(notifier: Notifier) -> None:
    n = notifier
    second = ServiceProcess("notifier", n.env)
    n.stopped.append(second)  # stopped with the first at the end
    await second.start()
    await second.wait_ready()
    number, volunteer = phone(), n.id("vol")
    await _register(n, volunteer, number)
    visits = [_visit(n, volunteer, k) for k in range(12)]

    await n.publish(*visits)
    await n.tail.wait_for("notifier.notification_held", count=10, timeout_s=60)
    [summary] = await n.sms_to(number, about="另有", timeout_s=WINDOW_S + 60)

    handled_by = [
        any(
            e.get("event") == "event_received" and e.get("event_type") == "outreach.visit_assigned"
            for e in process.events()
        )
        for process in (n.service, second)
    ]
    assert handled_by == [True, True], "both replicas took visits"
    assert len(n.gateway.to(number)) == 3, "two visits and the summary, whoever decided"
    assert "另有10条通知" in summary["text"]
