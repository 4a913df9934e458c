"""The platform's delivery rules on in-memory fakes: duplicates, dead letters, timers
(the relay's: test_relay_rules.py).

What these rules claim of Kafka and FerretDB themselves is tested again against the real
broker and server in tests/integration/.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.structs import ConsumerRecord

from shared import Timer
from shared._kit.clock import ManualClock
from shared._kit.context import Context
from shared._kit.deadletters import DeadLetters
from shared._kit.envelope import CloudEvent
from shared._kit.failures import Failures
from shared._kit.marking import mark_all_published
from shared._kit.memory import MemoryDatabase
from shared._kit.metrics import PlatformMetrics
from shared._kit.timers import Timers
from shared.testing import Scenario
from tests.unit.counter_service import SERVICE, Counter, Ping, Pinged

WHEN = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)


async def test_a_command_re_sent_after_250_others_has_no_second_effect() -> None:
    scenario = Scenario(SERVICE)
    first = await scenario.when(Ping(key="k", n=10), id="purchase-1")
    for n in range(250):
        await scenario.when(Ping(key="k", n=0), id=f"other-{n}")

    again = await scenario.when(Ping(key="k", n=10), id="purchase-1")

    assert first.one(Pinged).total == 10
    assert again.events == []
    assert await scenario.state("counters", "k", Counter) == Counter(total=10)
    doc = await scenario.db["counters"].find_one({"_id": "k"})
    assert doc is not None
    assert len(doc["inbox"]) <= 400, "finished keys leave the aggregate's inbox"


async def test_the_identity_is_source_and_id_so_two_senders_never_shadow_each_other() -> None:
    scenario = Scenario(SERVICE)
    topic, event = scenario.envelope(Ping(key="k", n=1), id="same-id")
    other = event.model_copy(update={"source": "/intake/another-system"})

    await scenario.when_raw(topic, event)
    outcome = await scenario.when_raw(topic, other)

    assert outcome.one(Pinged).total == 2


async def test_a_refused_command_redelivered_is_refused_again_even_when_it_would_now_pass() -> None:
    scenario = Scenario(SERVICE)
    refused = await scenario.when(Ping(key="k", n=-5), id="take-5")
    await scenario.when(Ping(key="k", n=100))

    again = await scenario.when(Ping(key="k", n=-5), id="take-5")

    assert refused.rejected == "below_zero"
    assert again.rejected == "below_zero"
    assert again.events[0].id == refused.events[0].id, "the same refusal, published again"
    assert await scenario.state("counters", "k", Counter) == Counter(total=100)


async def test_after_the_window_a_re_sent_command_is_a_new_command() -> None:
    scenario = Scenario(SERVICE, dedupe_window_days=7)
    await scenario.when(Ping(key="k", n=1), id="once")
    scenario.clock.advance(timedelta(days=8))
    forgotten = await scenario.runtime.processed.sweep()
    for n in range(401):  # push the key out of the aggregate's own inbox too
        await scenario.when(Ping(key="k", n=0), id=f"filler-{n}")

    again = await scenario.when(Ping(key="k", n=1), id="once")

    assert forgotten == 1
    assert again.one(Pinged).total == 2


class _Producer:
    """Refuses what a broker would refuse: tombstones, and values over `max_bytes`."""

    def __init__(self, *, max_bytes: int = 1_000_000, down: bool = False) -> None:
        self.max_bytes, self.down = max_bytes, down
        self.sent: list[tuple[str, bytes | None, bytes | None, dict[str, bytes]]] = []

    async def send_and_wait(
        self, topic: str, value: bytes | None, *, key: bytes | None, headers: Sequence[Any]
    ) -> None:
        if self.down:
            raise KafkaConnectionError("broker away")
        assert not (value is None and key is None), "Need at least one: key or value"
        if len(value or b"") + sum(len(v) for _, v in headers) > self.max_bytes:
            raise MessageSizeTooLargeError("too large")
        self.sent.append((topic, key, value, dict(headers)))


def _record(value: bytes | None, key: bytes | None = b"k", headers: Any = ()) -> Any:
    return ConsumerRecord("svc.intake", 3, 42, 0, 0, key, value, None, 0, 0, list(headers))


def _dead_letters(producer: _Producer, db: MemoryDatabase) -> DeadLetters:
    return DeadLetters(
        producer,
        db["undeliverable"],  # type: ignore[arg-type]
        service="svc",
        metrics=PlatformMetrics(),
        clock=ManualClock(WHEN),
        transient=Failures().transient,
    )


async def test_a_dead_letter_is_a_byte_for_byte_copy_with_its_reason() -> None:
    producer, db = _Producer(), MemoryDatabase()
    record = _record(b"\x00\xff", headers=[("trace", b"\xfe\x01")])

    await _dead_letters(producer, db).dead_letter(record, reason="not_a_cloudevent", error="x")

    [(topic, key, value, headers)] = producer.sent
    assert (topic, key, value) == ("svc.intake.dlq", b"k", b"\x00\xff")
    assert headers["trace"] == b"\xfe\x01"
    assert headers["x-dlq-original-partition"] == b"3"
    assert headers["x-dlq-original-offset"] == b"42"


async def test_a_tombstone_and_an_oversized_record_still_reach_the_dlq() -> None:
    producer, db = _Producer(max_bytes=5_000), MemoryDatabase()
    dead = _dead_letters(producer, db)

    await dead.dead_letter(_record(None, key=None), reason="not_a_cloudevent", error="empty")
    await dead.dead_letter(_record(b"x" * 4_900), reason="not_a_cloudevent", error="e" * 3_000)

    tombstone, oversized = producer.sent
    assert tombstone[1:3] == (None, b"")
    assert tombstone[3]["x-dlq-original-value"] == b"null"
    assert oversized[2] == b""
    assert oversized[3]["x-dlq-omitted"].startswith(b"value and headers left out (4900 bytes)")
    assert oversized[3]["x-dlq-original-offset"] == b"42"


async def test_what_not_even_the_dlq_takes_is_recorded_with_its_coordinates() -> None:
    producer, db = _Producer(max_bytes=10), MemoryDatabase()

    await _dead_letters(producer, db).dead_letter(
        _record(b"x" * 100), reason="not_a_cloudevent", error="e" * 100
    )

    assert producer.sent == []
    stored = await db["undeliverable"].find_one({"_id": "svc.intake/3/42"})
    assert stored is not None
    assert stored["value_bytes"] == 100


async def test_an_outage_is_raised_so_the_record_is_retried() -> None:
    with pytest.raises(KafkaConnectionError):
        await _dead_letters(_Producer(down=True), MemoryDatabase()).dead_letter(
            _record(b"x"), reason="not_a_cloudevent", error="e"
        )


class _Due(Timer, type="svc.due", subject="key"):
    key: str


async def test_a_timer_waits_out_an_outage_without_limit_and_ends_only_on_handler_failures() -> (
    None
):
    clock = ManualClock(WHEN)
    timers = Timers(
        MemoryDatabase()["timers"],  # type: ignore[arg-type]
        service="svc",
        clock=clock,
        owner="me",
        max_attempts=3,
    )
    await timers.schedule("t-outage", _Due(key="a"), due_at=WHEN)
    await timers.schedule("t-broken", _Due(key="b"), due_at=WHEN)
    failed: list[tuple[str, int]] = []
    outage = True

    async def deliver(event: CloudEvent) -> None:
        if event.subject == "a" and outage:
            raise KafkaConnectionError("broker away")
        if event.subject == "b":
            raise KeyError("a bug")

    async def on_failed(event: CloudEvent, error: str, attempts: int) -> None:
        failed.append((str(event.causationid), attempts))

    transient = Failures().transient
    for _ in range(20):  # far more rounds than max_attempts
        clock.advance(timedelta(minutes=2))
        await timers.fire_due(deliver, transient=transient, on_failed=on_failed)
    outage = False
    clock.advance(timedelta(minutes=2))
    fired = await timers.fire_due(deliver, transient=transient, on_failed=on_failed)

    assert failed == [("t-broken", 3)]
    assert fired == 1
    assert await timers.collection.count_documents({}) == 0, "fired and failed timers go"


async def test_many_new_aggregates_are_created_in_bulk_and_a_replay_creates_none() -> None:
    scenario = Scenario(SERVICE)
    store = scenario.runtime.stores[0]
    topic, event = scenario.envelope(Ping(key="campaign", n=1), id="launch")
    items = [(f"v{n}", Counter(total=n), [Pinged(key=f"v{n}", n=n, total=n)]) for n in range(120)]

    first = Context.of(
        event, source="/services/svc", clock=scenario.clock, timers=scenario.runtime.timers
    )
    created = await store.create_many(first, items)
    replay = Context.of(
        event, source="/services/svc", clock=scenario.clock, timers=scenario.runtime.timers
    )
    again = await store.create_many(replay, items)

    assert [a.duplicate for a in created] == [False] * 120
    assert [a.duplicate for a in again] == [True] * 120
    assert [len(a.events) for a in again] == [1] * 120, "unsent events come back with a replay"
    assert {a.events[0].id for a in again} == {a.events[0].id for a in created}
    assert await store.count() == 120
    await mark_all_published(again)
    assert await store.collection.count_documents({"outbox_since": None}) == 120
    assert topic == "svc.intake"
