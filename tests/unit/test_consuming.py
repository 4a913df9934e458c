"""The pipeline's routing decisions and the consumer's classification (no Kafka needed)."""

import json

from aiokafka.errors import KafkaConnectionError
from pymongo.errors import (
    AutoReconnect,
    ExecutionTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from shared._kit.envelope import CloudEvent
from shared._kit.failures import Failures
from shared.testing import Scenario
from tests.unit.counter_service import SERVICE, Counter, Ping


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
    for server in ("mongodb", "ferretdb"):
        transient = Failures(server).transient
        assert transient(ServerSelectionTimeoutError("no server"))
        assert transient(AutoReconnect("reset"))
        assert transient(KafkaConnectionError("refused"))
        assert transient(ExecutionTimeout("operation exceeded time limit", 50))
        assert transient(OperationFailure("not authorized", 13))
        assert transient(OperationFailure("auth failed", 18))
        assert not transient(OperationFailure("bad value", 2))
        assert not transient(KeyError("state"))
        assert not transient(ValueError("bad"))


def test_an_internal_error_is_an_outage_on_ferretdb_only() -> None:
    internal = OperationFailure("internal error", 1)

    assert Failures("ferretdb").transient(internal)
    assert not Failures("mongodb").transient(internal)
