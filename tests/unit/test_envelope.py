"""The CloudEvent envelope: wire format, keys, derived ids."""

import json
from datetime import UTC, datetime

import pytest

from shared import Context, Fact
from shared._kit.clock import ManualClock
from shared._kit.envelope import CloudEvent, NotACloudEventError, derive_id
from shared._kit.memory import MemoryDatabase
from shared._kit.timers import Timers
from shared._kit.wirejson import MAX_BYTES, MAX_DEPTH, MAX_DIGITS

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
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
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


def _with_data(data_json: str, **attributes: str) -> bytes:
    """A command's bytes with `data_json` spliced in as written (json.dumps would refuse
    or normalise what these tests need on the wire)."""
    envelope = json.loads(_command().to_bytes())
    envelope.update(attributes)
    envelope["data"] = "@DATA@"
    return json.dumps(envelope, ensure_ascii=False).replace('"@DATA@"', data_json).encode()


def _refused(raw: bytes) -> str:
    with pytest.raises(NotACloudEventError) as refused:
        CloudEvent.from_bytes(raw)
    return str(refused.value)


def test_a_number_of_5000_digits_is_refused_before_python_parses_it() -> None:
    # Python itself raises ValueError past 4,300 digits: that stalled a partition
    assert _refused(_with_data('{"quantity_kg": ' + "9" * 5000 + "}")) == (
        f"a number with more than {MAX_DIGITS} digits"
    )
    assert _refused(_with_data('{"quantity_kg": 1.' + "5" * 200 + "}")).startswith("a number")


def test_digits_inside_a_string_are_text_not_a_number() -> None:
    event = CloudEvent.from_bytes(_with_data('{"note": "' + "9" * 5000 + '"}'))

    assert event.data == {"note": "9" * 5000}


def test_nesting_is_bounded_without_recursion() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    assert _refused(_with_data('{"x": ' + deep + "}")) == f"nested deeper than {MAX_DEPTH} levels"
    # escapes in strings do not hide brackets from the scan
    assert _refused(_with_data('{"a\\"": ' + deep + "}")).startswith("nested deeper")
    just_deep_enough = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    assert CloudEvent.from_bytes(_with_data('{"x": ' + just_deep_enough + "}")).data is not None


def test_brackets_inside_strings_are_text() -> None:
    data = '{"x": "' + "[" * 5000 + '", "y": "\\"' + "{" * 100 + '"}'

    assert CloudEvent.from_bytes(_with_data(data)).data == {"x": "[" * 5000, "y": '"' + "{" * 100}


def test_a_record_over_the_size_limit_is_refused_whatever_it_holds() -> None:
    raw = _with_data('{"address": "' + "a" * (2 * 1024 * 1024) + '"}')

    assert _refused(raw) == f"{len(raw)} bytes, more than the limit of {MAX_BYTES}"


def test_a_huge_string_within_the_size_limit_is_the_models_business() -> None:
    event = CloudEvent.from_bytes(_with_data('{"address": "' + "a" * 900_000 + '"}'))

    assert event.data == {"address": "a" * 900_000}


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ('{"n": NaN}', "NaN is not a JSON number"),
        ('{"n": Infinity}', "Infinity is not a JSON number"),
        ('{"n": -Infinity}', "-Infinity is not a JSON number"),
        ('{"n": 1e400}', "the number 1e400 is out of range"),
        ('{"n": 1, "n": 2}', "the key 'n' appears twice in one object"),
        ('{"s": "\\ud800"}', "lone surrogate"),
        ('{"s": "\\udc00\\ud800"}', "lone surrogate"),
        ("[1, 2]", "data is a JSON array, not an object"),
        ('"text"', "data is a JSON string, not an object"),
        ("42", "data is a JSON number, not an object"),
    ],
)
def test_what_json_leaves_open_is_refused(data: str, why: str) -> None:
    assert why in _refused(_with_data(data))


def test_a_duplicated_attribute_is_refused_not_resolved() -> None:
    # two parsers may disagree on which `source` wins: neither does
    raw = _command().to_bytes()[:-1] + b', "source": "/services/enterprise"}'

    assert _refused(raw) == "the key 'source' appears twice in one object"


def test_a_paired_surrogate_escape_is_a_character() -> None:
    event = CloudEvent.from_bytes(_with_data('{"s": "\\ud83d\\ude00"}'))

    assert event.data == {"s": "\U0001f600"}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xef\xbb\xbf" + _command().to_bytes(), "BOM"),
        (_command().to_bytes().replace(b"ent-leather-01", b"ent-\xc0\xaf"), "not UTF-8"),
        (_command().to_bytes().replace(b"ent-leather-01", b"ent-\xed\xa0\x80"), "not UTF-8"),
        (_command().to_bytes().decode().encode("utf-16"), "not UTF-8"),
    ],
)
def test_odd_utf8_is_refused(raw: bytes, why: str) -> None:
    assert why in _refused(raw)


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"id": "x" * 10_000}, "id"),
        ({"subject": "s" * 257}, "subject"),
        ({"source": "/intake/" + "x" * 300}, "source"),
        ({"type": "enterprise." + "x" * 200}, "type"),
        ({"correlationid": "c" * 257}, "correlationid"),
        ({"time": "9999-12-31T23:00:00Z"}, "time"),
        ({"time": "0001-01-01T00:00:00+08:00"}, "time"),
    ],
)
def test_attributes_are_bounded(attributes: dict[str, str], field: str) -> None:
    assert _refused(_with_data("{}", **attributes)) == (
        f"missing or invalid CloudEvents attributes: {field}"
    )


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
