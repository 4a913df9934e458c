"""One notification per (cause, recipient, channel), ever, on real FerretDB: the same
cause handled by many concurrent handlers (replicas during a rebalance, redeliveries)
leaves one document per key and one message per key at a gateway honouring it."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifier.app import wiring
from services.notifier.channels import LogChannel, Outgoing
from services.notifier.domain import Delivered, Failed
from services.notifier.settings import NotifierSettings
from shared import Context
from shared._kit.clock import SystemClock
from shared._kit.envelope import CloudEvent
from shared._kit.runtime import Runtime

pytestmark = pytest.mark.integration
CONCURRENT = 8


class KeyedGateway:
    """Shows each idempotency key once, counting every request."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.shown: dict[str, Outgoing] = {}

    async def send(self, message: Outgoing) -> Delivered | Failed:
        self.requests[message.notification_id] += 1
        await asyncio.sleep(0.01)  # a real call's latency, so the handlers interleave
        self.shown.setdefault(message.notification_id, message)
        return Delivered()


def _alert(officer_phone: str) -> CloudEvent:
    return CloudEvent(
        id=uuid.uuid4().hex,
        source="/services/enterprise",
        type="enterprise.over_capacity_detected",
        subject="leather",
        time=datetime.now(UTC),
        data={
            "alert_id": "alert-1",
            "enterprise_id": "leather",
            "enterprise_name": "丽水合成革有限公司",
            "cas": "78-93-3",
            "chemical_name": "丁酮",
            "stock_kg": 30_000,
            "capacity_kg": 20_000,
            "surplus_kg": 10_000,
            "liaison_officer": {"officer_id": "o-1", "name": "吕", "phone": officer_phone},
        },
    )


async def test_concurrent_handlers_of_one_cause_leave_one_notification_per_key(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    gateway = KeyedGateway()
    settings = NotifierSettings.model_validate(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
            "MONGODB_URL": "mongodb://127.0.0.1/",
            "channels": "sms,log",
            "brigade_phone": "13700000110",
            "quiet_hours_start": "00:00",
            "quiet_hours_end": "00:00",
        }
    )
    runtime = Runtime(
        service="notifier",
        settings=settings,
        db=mongo_db,
        clock=SystemClock(),
        timer_owner="test",
    )
    wiring(lambda _s: {"sms": gateway, "log": LogChannel()})(runtime)
    route = runtime.routes["enterprise.private"]["enterprise.over_capacity_detected"]
    causes = [_alert("13800000001"), _alert("13800000001")]

    async def handle(event: CloudEvent) -> None:
        ctx = Context.of(event, source=runtime.source, clock=runtime.clock, timers=runtime.timers)
        await route.handler(route.model.model_validate(event.data), ctx)

    await asyncio.gather(*(handle(cause) for cause in causes for _ in range(CONCURRENT)))

    docs = [doc async for doc in mongo_db["notifications"].find()]
    keys = Counter(
        (d["state"]["cause_id"], d["state"]["recipient"]["id"], d["state"]["channel"]) for d in docs
    )
    assert len(docs) == 8, "two causes x (officer, brigade) x (sms, log)"
    assert set(keys.values()) == {1}
    assert {d["state"]["status"] for d in docs} == {"sent"}
    assert len(gateway.shown) == 4, "each SMS shown once"
    assert set(gateway.shown) == {d["_id"] for d in docs if d["state"]["channel"] == "sms"}
    # a second document with the same (cause, recipient, channel) is refused by MongoDB
    with pytest.raises(DuplicateKeyError):
        await mongo_db["notifications"].insert_one({"_id": docs[0]["_id"], "state": {}})
