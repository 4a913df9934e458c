"""The pipeline's routing decisions and the consumer's classification (no Kafka needed)."""

import json

from aiokafka.errors import KafkaConnectionError
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

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
from shared._kit.consuming import is_transient
from shared._kit.envelope import CloudEvent
from shared.testing import Scenario


class PingSettings(ServiceSettings):
    model_config = settings_for("svc")

    http_port: Port = 8190


class Ping(Command, type="svc.ping", subject="key"):
    key: str
    n: float


class Pinged(Fact, type="svc.pinged", subject="key"):
    key: str
    n: float


class Counter(State):
    total: float = 0


def wire(runtime: Runtime[PingSettings]) -> None:
    counters = runtime.store("counters", Counter)

    async def ping(cmd: Ping, ctx: Context) -> None:
        def decide(state: Counter | None) -> Change[Counter]:
            total = (state or Counter()).total + cmd.n
            return Change(Counter(total=total), [Pinged(key=cmd.key, n=cmd.n)])

        await counters.apply(cmd.key, ctx, decide)

    runtime.handle(ping)


SERVICE = Service("svc", PingSettings, wire)


def _event(event_type: str, data: object, *, event_id: str = "e1") -> CloudEvent:
    return CloudEvent(id=event_id, source="/x", type=event_type, subject="s", data=data)  # type: ignore[arg-type]


async def test_unknown_type_on_another_services_topic_is_ignored() -> None:
    scenario = Scenario(SERVICE)

    outcome = await scenario.when_raw("other.events", _event("other.thing_happened", {}))

    assert outcome.events == []


async def test_unknown_type_on_the_own_intake_is_rejected() -> None:
    scenario = Scenario(SERVICE)

    outcome = await scenario.when_raw("svc.intake", _event("svc.unknown", {}))

    [rejection] = outcome.events
    assert rejection.type == "svc.command_rejected"
    assert outcome.rejected == "unknown_command_type"
    assert rejection.causationid == "e1"


async def test_numbers_that_are_not_finite_are_invalid_data_and_change_nothing() -> None:
    scenario = Scenario(SERVICE)
    for n, raw in enumerate(('{"key": "k", "n": 1e400}', '{"key": "k", "n": NaN}')):
        data = json.loads(raw)

        outcome = await scenario.when_raw("svc.intake", _event("svc.ping", data, event_id=f"{n}"))

        assert outcome.rejected == "invalid_data"
        assert outcome.rejections[0].errors == ["n: Input should be a finite number"]
    assert await scenario.state("counters", "k", Counter) is None


async def test_a_redelivered_command_changes_nothing_and_states_nothing_new() -> None:
    scenario = Scenario(SERVICE)

    first = await scenario.when(Ping(key="k", n=2), id="same")
    again = await scenario.when(Ping(key="k", n=2), id="same")

    assert first.types == ["svc.pinged"]
    assert again.events == []
    assert await scenario.state("counters", "k", Counter) == Counter(total=2)


def test_infrastructure_failures_are_transient_and_bugs_are_not() -> None:
    assert is_transient(ServerSelectionTimeoutError("no server"))
    assert is_transient(AutoReconnect("reset"))
    assert is_transient(KafkaConnectionError("refused"))
    assert not is_transient(KeyError("state"))
    assert not is_transient(ValueError("bad"))
