"""A tiny service that reads another service's facts (the counter service's `svc.pinged`)
and has one command with a buggy validator: what the consumer's trust and refusal tests
need beside the counter service."""

from typing import Any

from aiokafka.structs import ConsumerRecord
from pydantic import Field, field_validator

from shared import (
    Change,
    Command,
    Context,
    Fact,
    Port,
    Runtime,
    Service,
    ServiceSettings,
    State,
    settings_for,
)
from shared._kit.consuming import Consumer, RetryPolicy
from shared._kit.envelope import CloudEvent
from shared._kit.failures import Failures
from shared._kit.metrics import PlatformMetrics
from shared.testing import Scenario


class WatchSettings(ServiceSettings):
    model_config = settings_for("watch")

    http_port: Port = 8191


class Pinged(Fact, type="svc.pinged", subject="key"):
    key: str
    n: float


class Label(Command, type="watch.label", subject="key"):
    key: str
    tags: list[int] = Field(default_factory=list)

    @field_validator("key")
    @classmethod
    def _starts_with_a_letter(cls, key: str) -> str:
        # the bug under test: an empty key raises IndexError, which pydantic lets through
        if not key[0].isalpha():
            raise ValueError("starts with a letter")
        return key


class Seen(State):
    pings: list[str] = Field(default_factory=list)


def wire(runtime: Runtime[WatchSettings]) -> None:
    seen = runtime.store("seen", Seen)

    async def pinged(fact: Pinged, ctx: Context) -> None:
        def decide(state: Seen | None) -> Change[Seen]:
            return Change(Seen(pings=[*(state or Seen()).pings, ctx.event.id]))

        await seen.apply(fact.key, ctx, decide)

    async def label(cmd: Label, ctx: Context) -> None:
        def decide(state: Seen | None) -> Change[Seen]:
            return Change(state or Seen())

        await seen.apply(cmd.key, ctx, decide)

    runtime.handle(pinged, label)


SERVICE = Service("watch", WatchSettings, wire)


class RecordedDeadLetters:
    """Dead letters kept in a list: (offset, reason, error)."""

    def __init__(self) -> None:
        self.letters: list[tuple[int, str, str]] = []

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str
    ) -> None:
        self.letters.append((record.offset, reason, error))


def consumer(
    scenario: Scenario[Any], topic: str, routes_of: str, dead_letters: RecordedDeadLetters
) -> Consumer:
    """The scenario's consumer of `topic` with the routes the service has for `routes_of`."""
    return Consumer(
        scenario.pipeline,
        topic,
        scenario.runtime.routes[routes_of],
        routes_of == scenario.runtime.intake,
        dead_letters,
        PlatformMetrics(),
        RetryPolicy(Failures().transient, initial_backoff_s=0),
    )


def records(topic: str, values: list[bytes]) -> list[ConsumerRecord[bytes, bytes]]:
    """Kafka records of `values`, offsets 0, 1, … on partition 0."""
    return [
        ConsumerRecord(topic, 0, offset, 0, 0, b"k", value, None, 0, len(value), [])
        for offset, value in enumerate(values)
    ]


def fact(event_id: str, *, source: str = "/services/svc", type_: str = "svc.pinged") -> bytes:
    return CloudEvent(
        id=event_id, source=source, type=type_, subject="k", data={"key": "k", "n": 1}
    ).to_bytes()
