"""The pipeline's routing decisions and the consumer's classification (no Kafka needed)."""

import json

import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import generate_latest
from pymongo.errors import (
    AutoReconnect,
    ExecutionTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from shared._kit.envelope import CloudEvent, identity_key
from shared._kit.failures import Failures
from shared._kit.pipeline import MAX_ERRORS
from shared.testing import Scenario
from tests.unit.batch_support import CountingWrites, ping_records
from tests.unit.counter_service import SERVICE, Counter, Ping
from tests.unit.watch_service import SERVICE as WATCH
from tests.unit.watch_service import RecordedDeadLetters, Seen, consumer, fact, records


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


async def test_a_poison_record_in_a_batch_is_dead_lettered_and_the_rest_is_one_unit() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(Ping(key="k", n=0))  # an update, so the writes are counted
    dead = RecordedDeadLetters()
    good = ping_records(scenario, [("k", 1, "a"), ("k", 2, "b"), ("k", 4, "c")])
    digits = good[0].value.replace(b'"n":1.0', b'"n":' + b"9" * 5000)
    values = [good[0].value, digits, good[1].value, b"\x00\xff", good[2].value]
    writes = CountingWrites(scenario)

    await consumer(scenario, "svc.intake", "svc.intake", dead).handle_batch(
        records("svc.intake", values)
    )

    assert dead.letters == [
        (1, "not_a_cloudevent", "a number with more than 40 digits"),
        (3, "not_a_cloudevent", "not UTF-8: invalid start byte at byte 1"),
    ]
    assert await scenario.state("counters", "k", Counter) == Counter(total=7)
    assert [e.type for e in scenario.published[1:]] == ["svc.pinged"] * 3
    assert (writes.single, writes.bulk) == (0, 1), "the good records stayed one unit: one write"


@pytest.mark.parametrize("batch", [True, False])
async def test_whatever_the_parser_raises_the_record_is_dead_lettered(
    monkeypatch: pytest.MonkeyPatch, batch: bool
) -> None:
    scenario = Scenario(SERVICE)
    dead = RecordedDeadLetters()
    parse = CloudEvent.from_bytes

    def exploding(raw: bytes) -> CloudEvent:
        if raw == b"poison":
            raise RecursionError("maximum recursion depth exceeded")
        return parse(raw)

    monkeypatch.setattr(CloudEvent, "from_bytes", exploding)
    good = ping_records(scenario, [("k", 1, "a"), ("k", 2, "b")])
    batch_records = records("svc.intake", [good[0].value, b"poison", good[1].value])
    svc = consumer(scenario, "svc.intake", "svc.intake", dead)

    if batch:
        await svc.handle_batch(batch_records)
    else:
        for record in batch_records:
            await svc.handle(record)

    assert dead.letters == [
        (1, "not_a_cloudevent", "RecursionError: maximum recursion depth exceeded")
    ]
    assert await scenario.state("counters", "k", Counter) == Counter(total=3)


@pytest.mark.parametrize("batch", [True, False])
async def test_only_the_owner_states_its_facts_and_a_forged_copy_shadows_nothing(
    batch: bool,
) -> None:
    scenario = Scenario(WATCH)
    dead = RecordedDeadLetters()
    forged = [
        fact("fact-1", source="/intake/mallory"),  # the id the real fact will have
        fact("fact-1", source="/services/watch"),  # another service's voice
        fact("fact-2", type_="mallory.pinged"),  # the owner's source, a type not its own
        fact("fact-3", type_="watch.pinged"),
    ]
    real = fact("fact-1")
    # a topic a test gives a prefix: the owner is whose facts the routes expect
    topic = "run-42.svc.events"
    svc = consumer(scenario, topic, "svc.events", dead)

    if batch:
        await svc.handle_batch(records(topic, [*forged, real]))
    else:
        for record in records(topic, [*forged, real]):
            await svc.handle(record)

    assert [(offset, reason) for offset, reason, _ in dead.letters] == [
        (0, "foreign_source"),
        (1, "foreign_source"),
        (2, "foreign_type"),
        (3, "foreign_type"),
    ]
    assert dead.letters[0][2] == "source '/intake/mallory' on svc's facts, not /services/svc"
    assert dead.letters[2][2] == "type 'mallory.pinged' among svc's facts"
    seen = await scenario.state("seen", "k", Seen)
    assert seen == Seen(pings=["fact-1"]), "the real fact was handled, once"
    assert await scenario.runtime.processed.seen(identity_key("/intake/mallory", "fact-1")) is None
    metrics = generate_latest(scenario.pipeline.metrics.registry)
    assert b"mallory" not in metrics, "no label from the wire"
    assert b"watch.pinged" not in metrics


async def test_a_fact_of_the_owner_whose_type_nobody_here_reads_is_still_ignored() -> None:
    scenario = Scenario(WATCH)
    dead = RecordedDeadLetters()

    await consumer(scenario, "svc.events", "svc.events", dead).handle(
        records("svc.events", [fact("f", type_="svc.something_new")])[0]
    )

    assert dead.letters == []
    assert scenario.published == []


async def test_a_command_in_a_services_voice_is_refused_and_shadows_no_real_one() -> None:
    scenario = Scenario(SERVICE)
    forged = _event("svc.ping", {"key": "k", "n": 5}, event_id="cmd-1")

    outcome = await scenario.when_raw(
        "svc.intake", forged.model_copy(update={"source": "/services/svc"})
    )
    real = await scenario.when_raw("svc.intake", forged.model_copy(update={"source": "/intake/x"}))

    assert outcome.rejected == "forged_source"
    assert outcome.rejections[0].errors == [
        "a command from /services/svc: commands come from /intake/<who>"
    ]
    assert real.types == ["svc.pinged"]
    assert await scenario.state("counters", "k", Counter) == Counter(total=5)


async def test_a_validator_that_raises_anything_is_a_refusal_not_a_failure() -> None:
    scenario = Scenario(WATCH)

    outcome = await scenario.when_raw("watch.intake", _event("watch.label", {"key": ""}))

    assert outcome.rejected == "invalid_data"
    assert outcome.rejections[0].errors == ["data: IndexError: string index out of range"]


async def test_a_refusal_names_a_bounded_number_of_errors() -> None:
    scenario = Scenario(WATCH)
    tags = ["not a number"] * 10_000

    outcome = await scenario.when_raw(
        "watch.intake", _event("watch.label", {"key": "k", "tags": tags})
    )

    errors = outcome.rejections[0].errors
    assert len(errors) == MAX_ERRORS + 1
    assert (
        errors[0] == "tags.0: Input should be a valid integer, unable to parse string as an integer"
    )
    assert errors[-1] == f"… and {10_000 - MAX_ERRORS} more"
