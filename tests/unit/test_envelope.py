"""The CloudEvent envelope: wire format, keys, derived ids."""

import json
from datetime import UTC, datetime

import pytest

from shared import Context, Fact
from shared._kit.clock import ManualClock
from shared._kit.envelope import CloudEvent, NotACloudEventError, derive_id
from shared._kit.memory import MemoryDatabase
from shared._kit.timers import Timers

WHEN = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)


def _command() -> CloudEvent:
    return CloudEvent(
        id="cmd-1",
        source="/intake/cli",
        type="enterprise.declare_inventory",
        subject="ent-leather-01",
        time=WHEN,
        data={"quantity_kg": 30000},
    )


def test_round_trip_keeps_every_attribute_and_unknown_extensions() -> None:
    raw = json.dumps({**json.loads(_command().to_bytes()), "traceparent": "00-abc"}).encode()

    event = CloudEvent.from_bytes(raw)

    assert event.subject == "ent-leather-01"
    assert event.model_extra == {"traceparent": "00-abc"}
    assert json.loads(event.to_bytes()) == json.loads(raw)
    assert event.key == b"ent-leather-01"


def test_structured_mode_leaves_out_absent_attributes() -> None:
    wire = json.loads(_command().to_bytes())

    assert wire["specversion"] == "1.0"
    assert "causationid" not in wire
    assert wire["time"] == "2026-06-03T09:30:00Z"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"hello": "world"}', "id, source, type"),
        (b'{"specversion": "0.3", "id": "x", "source": "s", "type": "t"}', "specversion"),
        (b'{"specversion": "1.0", "id": "", "source": "s", "type": "t"}', "id"),
        (
            b'{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2026-06-03T09:30"}',
            "time",
        ),
    ],
)
def test_bytes_that_are_not_a_cloudevent_say_why(raw: bytes, why: str) -> None:
    with pytest.raises(NotACloudEventError, match=why):
        CloudEvent.from_bytes(raw)


class _Alerted(Fact, type="enterprise.over_capacity_detected", subject="enterprise_id"):
    enterprise_id: str


def _context(event: CloudEvent) -> Context:
    clock = ManualClock(WHEN)
    timers = Timers(MemoryDatabase()["timers"], service="enterprise", clock=clock, owner="t")  # type: ignore[arg-type]
    return Context.of(event, source="/services/enterprise", clock=clock, timers=timers)


def test_stated_facts_copy_correlation_and_derive_a_replayable_id() -> None:
    command = _command()
    fact = _Alerted(enterprise_id="ent-leather-01")

    first = _context(command).envelope(fact, "alert")
    replay = _context(command).envelope(fact, "alert")
    downstream = _context(first).envelope(fact, "notify")

    assert first.id == replay.id
    assert first.id != _context(command).envelope(fact, "transfer").id
    assert first.subject == "ent-leather-01"
    assert first.causationid == "cmd-1"
    assert first.correlationid == "cmd-1"  # a command starts its own story
    assert downstream.correlationid == "cmd-1"
    assert downstream.causationid == first.id


def test_identity_is_source_and_id_together() -> None:
    command = _command()
    same_id_other_sender = command.model_copy(update={"source": "/intake/other"})

    assert _context(command).key == _context(command).key
    assert _context(command).key != _context(same_id_other_sender).key
    assert derive_id(_context(command).key, "x") != derive_id(
        _context(same_id_other_sender).key, "x"
    )
