"""The outbox relay's rules on in-memory fakes: what a crash left is published, what
cannot be is reported and left out, what this process already published is not sent
again. Against the real broker and server: tests/integration/."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared._kit.clock import ManualClock
from shared._kit.context import Applied
from shared._kit.envelope import CloudEvent
from shared._kit.failures import Failures
from shared._kit.metrics import PlatformMetrics
from shared._kit.outbox import outbox_entries
from shared._kit.publishing import OutboxRelay
from shared.testing import Scenario
from tests.unit.counter_service import SERVICE, Ping

WHEN = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)


class _Publisher:
    def __init__(self, refuse: str) -> None:
        self.refuse, self.sent = refuse, list[str]()
        self.service, self.metrics = "svc", PlatformMetrics()

    async def publish_applied(self, topic: str, applied: Sequence[Any]) -> None:
        for one in applied:
            if one.aggregate_id == self.refuse:
                raise ValueError("this one cannot be published")
            self.sent += [e.id for e in one.events]
            await one.mark_published()


def _relay(publisher: _Publisher, store: Any) -> OutboxRelay:
    """A relay over one store, a minute after the outboxes were left (past any grace)."""
    return OutboxRelay(
        publisher,  # type: ignore[arg-type]
        [store],
        topic="svc.events",
        clock=ManualClock(WHEN + timedelta(minutes=1)),
        transient=Failures().transient,
    )


async def test_the_relay_reports_a_document_it_cannot_publish_and_sweeps_the_others() -> None:
    scenario = Scenario(SERVICE)
    for key in ("a", "bad", "c"):
        await scenario.when(Ping(key=key, n=1))
    store = scenario.runtime.stores[0]
    for key in ("a", "bad", "c"):  # as a crash would leave them: stored, not published
        doc = await store.collection.find_one({"_id": key})
        assert doc is not None
        event = CloudEvent(id=f"e-{key}", source="/s", type="svc.pinged", subject=key)
        [entry] = outbox_entries([event], "x")
        await store.collection.update_one(
            {"_id": key}, {"$set": {"outbox": [entry], "outbox_since": WHEN}}
        )
    publisher = _Publisher(refuse="bad")
    relay = _relay(publisher, store)

    first = await relay.relay_once()
    second = await relay.relay_once()

    assert sorted(publisher.sent) == ["e-a", "e-c"]
    assert (first, second) == (2, 0)
    assert relay.failing["counters"] == {"bad"}


async def test_the_relay_leaves_what_this_process_published_and_has_not_marked_yet() -> None:
    """Marking waits for half a second or the aggregate's next write; a relay grace shorter
    than that must not publish those events a second time."""
    scenario = Scenario(SERVICE)
    await scenario.when(Ping(key="a", n=1))
    store = scenario.runtime.stores[0]
    published = CloudEvent(id="e-published", source="/s", type="svc.pinged", subject="a")
    crashed = CloudEvent(id="e-left", source="/s", type="svc.pinged", subject="a")
    entries = outbox_entries([published, crashed], "x")
    await store.collection.update_one(
        {"_id": "a"}, {"$set": {"outbox": entries, "outbox_since": WHEN}}
    )
    doc = await store.collection.find_one({"_id": "a"})
    assert doc is not None
    store.published([Applied(store, "a", [published], stored=doc)])
    publisher = _Publisher(refuse="")
    relay = _relay(publisher, store)

    assert await relay.relay_once() == 1
    assert publisher.sent == ["e-left"]
