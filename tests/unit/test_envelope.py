"""The CloudEvent envelope: wire format, keys, derived ids."""

import json
from datetime import UTC, datetime

import pytest

from shared.envelope import CloudEvent, NotACloudEventError, derive_id

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


def test_caused_events_copy_correlation_and_derive_a_replayable_id() -> None:
    command = _command()

    def alert(cause: CloudEvent) -> CloudEvent:
        return cause.caused(
            role="alert",
            type="enterprise.over_capacity_detected",
            source="/services/enterprise",
            subject="ent-leather-01",
            data={},
            time=WHEN,
        )

    first, replay = alert(command), alert(command)
    downstream = first.caused(
        role="notify",
        type="notifier.notification_sent",
        source="/services/notifier",
        subject="n",
        data={},
        time=WHEN,
    )

    assert first.id == replay.id == derive_id("cmd-1", "alert")
    assert first.id != derive_id("cmd-1", "transfer")
    assert first.causationid == "cmd-1"
    assert first.correlationid == "cmd-1"  # a command starts its own story
    assert downstream.correlationid == "cmd-1"
    assert downstream.causationid == first.id
