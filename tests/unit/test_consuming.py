"""The consumer's routing decisions, with a hand-written publisher fake (no Kafka needed)."""

from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from shared.aggregates import Applied
from shared.clock import ManualClock
from shared.consuming import Consumer, RetryPolicy, Router, is_transient
from shared.envelope import CloudEvent
from shared.metrics import PlatformMetrics


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, list[CloudEvent]]] = []
        self.dead: list[str] = []

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        self.published.append((topic, list(events)))

    async def publish_applied(self, topic: str, applied: Sequence[Applied]) -> None:
        for one in applied:
            self.published.append((topic, one.events))

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str
    ) -> None:
        self.dead.append(reason)


class Ping(BaseModel):
    n: int


def _consumer(*, own_intake: bool, publisher: RecordingPublisher) -> Consumer:
    router = Router()

    @router.on("svc.ping", Ping)
    async def ping(cmd: Ping, event: CloudEvent) -> list[Applied]:
        return []

    return Consumer(
        service="svc",
        topic="svc.intake" if own_intake else "other.events",
        own_intake=own_intake,
        router=router,
        publisher=publisher,  # type: ignore[arg-type]
        metrics=PlatformMetrics(),
        clock=ManualClock(datetime(2026, 6, 3, tzinfo=UTC)),
        retry=RetryPolicy(max_attempts=2, initial_backoff_s=0),
    )


def _record(event_type: str) -> ConsumerRecord[bytes, bytes]:
    event = CloudEvent(id="e1", source="/x", type=event_type, subject="s", data={"n": 1})
    return ConsumerRecord("t", 0, 7, 0, 0, b"s", event.to_bytes(), None, 0, 0, [])


async def test_unknown_type_on_another_services_topic_is_ignored() -> None:
    publisher = RecordingPublisher()

    await _consumer(own_intake=False, publisher=publisher).handle(_record("other.thing_happened"))

    assert publisher.published == []
    assert publisher.dead == []


async def test_unknown_type_on_the_own_intake_is_rejected() -> None:
    publisher = RecordingPublisher()

    await _consumer(own_intake=True, publisher=publisher).handle(_record("svc.unknown"))

    [(topic, [rejection])] = publisher.published
    assert topic == "svc.events"
    assert rejection.type == "svc.command_rejected"
    assert rejection.data is not None
    assert rejection.data["reason"] == "unknown_command_type"
    assert rejection.causationid == "e1"


def test_infrastructure_failures_are_transient_and_bugs_are_not() -> None:
    from aiokafka.errors import KafkaConnectionError
    from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

    assert is_transient(ServerSelectionTimeoutError("no server"))
    assert is_transient(AutoReconnect("reset"))
    assert is_transient(KafkaConnectionError("refused"))
    assert not is_transient(KeyError("state"))
    assert not is_transient(ValueError("bad"))
