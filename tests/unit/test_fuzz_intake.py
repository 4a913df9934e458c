"""Hostile input is harmless (issue 22, item 8): thousands of generated and mutated commands,
facts and raw records through each service's real consumer, pipeline and handlers, in memory.

Each example is a fresh service fed a short sequence, so later messages meet the state
earlier ones made (a transfer proposed, a case opened). Whatever arrives, the record ends
exactly one way: its effects, one `command_rejected`, or the dead-letter queue; never an
exception, never longer than STEP_TIMEOUT_S. A refused or dead-lettered record changes no
stored document; a valid command is neither dead-lettered nor refused as `invalid_data`;
what is stored fits MongoDB and what is published can be read back by its consumers.
`CI=1` runs the derandomised profile (tests/fuzz_support.py); counts are printed (-rP).
"""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.enterprise.app import SERVICE as ENTERPRISE
from services.mediation.app import SERVICE as MEDIATION
from services.outreach.app import SERVICE as OUTREACH
from shared import Service
from shared._kit.pipeline import REJECTED
from shared.testing import Scenario
from tests.fuzz_support import (
    CERTAINLY_NOT_A_CLOUDEVENT,
    Delivered,
    Envelope,
    Fed,
    KnownIds,
    Tally,
    accepts,
    envelope,
    garbage,
    intake_record,
    mutated,
    reference_reading,
    snapshot,
    storage_problems,
    subject_of,
    valid,
    wire_problems,
)
from tests.unit.test_notifier_support import Channels
from tests.unit.test_notifier_support import scenario as notifier_scenario

SERVICES: dict[str, Service[Any]] = {
    "enterprise": ENTERPRISE,
    "outreach": OUTREACH,
    "mediation": MEDIATION,
}
# examples per test; a command example is a sequence of up to 10 commands, a record example
# a batch of up to 8 records, a fact example up to 6 facts: about 9,000 cases in all
COMMAND_EXAMPLES = 250
RECORD_EXAMPLES = 160
FACT_EXAMPLES = 400
# a handler that raised until its attempts were spent: a crash, not a refusal
CRASHED = "handler_failed"
# what the police sign is at most this long (issue 22, item 5)
SMS_SEGMENTS_MAX = 3

Record = Callable[[str, object], None]


def _fed(service: str) -> Fed:
    return Fed(Scenario(SERVICES[service]))


def _ending(delivered: Delivered, event_id: str) -> tuple[str, str | None]:
    """How the record with this id ended: dead-lettered, rejected (with the reason) or
    applied; fails if it ended more than one way."""
    if delivered.dead:
        [letter] = delivered.dead
        assert letter.reason != CRASHED, f"a handler crashed on it: {letter.error}"
        assert delivered.events == [], "dead-lettered, yet it published events"
        return "dead_lettered", letter.reason
    rejections = [e for e in delivered.answers(event_id) if e.type.endswith(f".{REJECTED}")]
    if rejections:
        assert len(rejections) == 1, f"rejected {len(rejections)} times"
        assert delivered.events == rejections, "rejected, yet other events were published"
        return "rejected", str((rejections[0].data or {}).get("reason"))
    return "applied", None


def _check_the_store_and_the_wire(fed: Fed, delivered: Delivered) -> None:
    assert storage_problems(fed.scenario.db) == [], "stored what MongoDB would refuse"
    assert wire_problems(delivered.events) == [], "published what cannot be read back"


async def _one_command(fed: Fed, data: st.DataObject, known: KnownIds, number: int) -> str:
    """One generated command through the intake; returns how it ended."""
    runtime = fed.runtime
    routes = runtime.routes[runtime.intake]
    command_type = data.draw(st.sampled_from(sorted(routes)), label="type")
    model = routes[command_type].model
    payload: Any = known.relinked(data.draw, data.draw(valid(model), label="valid payload"))
    kind = data.draw(st.sampled_from(["valid", "valid", "mutated", "mutated", "unknown_type"]))
    if kind == "mutated":
        payload = data.draw(mutated(payload), label="mutated payload")
    elif kind == "unknown_type":
        command_type = data.draw(
            st.sampled_from([f"{runtime.service}.unknown", "outreach.report_dispute", "x"])
            | st.text(min_size=1, max_size=30),
            label="unknown type",
        )
    sent: Envelope = envelope(
        data.draw,
        event_id=f"cmd-{number}",
        source="/intake/fuzz",
        event_type=command_type,
        data=payload,
        subject=subject_of(model, payload),
    )
    raw = sent.to_bytes(ascii_only=data.draw(st.booleans(), label="ascii only"))
    before = snapshot(fed.scenario.db)

    delivered = await fed.deliver([fed.record(runtime.intake, raw, key=sent.key)])

    ending, reason = _ending(delivered, sent.id)
    _check_the_store_and_the_wire(fed, delivered)
    if ending != "applied":
        assert snapshot(fed.scenario.db) == before, f"{ending} ({reason}), yet state changed"
    if kind == "valid" and sent.odd is None:
        assert ending != "dead_lettered", f"a valid command was dead-lettered: {reason}"
        assert reason != "invalid_data", "a valid command was refused as invalid data"
    if ending != "dead_lettered":
        read = reference_reading(raw)
        assert read is not None, "the service took a record that is no CloudEvent"
        forged = read.source.startswith("/services/")  # may be refused before it is read
        if read.type not in routes:
            assert ending == "rejected", "a command of an unknown type was not rejected"
            assert forged or reason == "unknown_command_type", reason
        elif not accepts(routes[read.type].model, read.data or {}):
            assert ending == "rejected", "a command its model refuses was applied"
            assert forged or reason == "invalid_data", reason
    known.learn(delivered.events)
    return ending if reason is None else f"{ending}:{reason}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_command_ends_as_its_effects_or_a_rejection(
    service: str, record_property: Record
) -> None:
    tally = Tally(f"{service} commands")

    @settings(max_examples=COMMAND_EXAMPLES, deadline=None)
    @given(data=st.data())
    def sequence(data: st.DataObject) -> None:
        async def run() -> None:
            fed, known = _fed(service), KnownIds()
            for number in range(data.draw(st.integers(1, 10), label="commands")):
                tally.add(await _one_command(fed, data, known, number))

        asyncio.run(run())

    sequence()
    tally.report(record_property)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_raw_record_is_handled_or_dead_lettered_and_the_partition_goes_on(
    service: str, record_property: Record
) -> None:
    tally = Tally(f"{service} raw records")

    @settings(max_examples=RECORD_EXAMPLES, deadline=None)
    @given(data=st.data())
    def batch(data: st.DataObject) -> None:
        async def run() -> None:
            fed = _fed(service)
            routes = fed.runtime.routes[fed.runtime.intake]
            count = data.draw(st.integers(1, 8), label="records")
            made = [data.draw(intake_record(routes, n), label=f"rec {n}") for n in range(count)]
            records = [
                fed.record(fed.runtime.intake, raw, partition=data.draw(st.integers(0, 2)))
                for _, raw in made
            ]
            before = snapshot(fed.scenario.db)

            delivered = await fed.deliver(records)

            _check_the_store_and_the_wire(fed, delivered)
            applied = False
            for (how, raw), record in zip(made, records, strict=True):
                letters = fed.dead_letters.of(record)
                assert len(letters) <= 1, f"{how}: dead-lettered {len(letters)} times"
                read = reference_reading(raw)
                if letters:
                    assert letters[0].reason != CRASHED, f"{how}: crashed: {letters[0].error}"
                    assert how != "valid", f"a valid command was dead-lettered: {letters[0]}"
                    tally.add(f"dead_lettered:{how}")
                    continue
                assert how not in CERTAINLY_NOT_A_CLOUDEVENT, f"{how}: not dead-lettered"
                assert read is not None, f"{how}: the service took a record that is no CloudEvent"
                answers = delivered.answers(read.id)
                rejected = [e for e in answers if e.type.endswith(f".{REJECTED}")]
                assert len(rejected) <= 1, f"{how}: rejected {len(rejected)} times"
                applied = applied or not rejected
                tally.add(f"rejected:{how}" if rejected else f"applied:{how}")
            if not applied:
                assert snapshot(fed.scenario.db) == before, "nothing was applied, yet state changed"

        asyncio.run(run())

    batch()
    tally.report(record_property)


def test_the_notifier_takes_only_facts_from_their_owners_and_survives_any(
    record_property: Record,
) -> None:
    """Facts on the topics the notifier reads: the owner's facts, mutated ones, forged ones
    (another source or another service's type) and garbage."""
    tally = Tally("notifier facts")

    @settings(max_examples=FACT_EXAMPLES, deadline=None)
    @given(data=st.data())
    def sequence(data: st.DataObject) -> None:
        async def run() -> None:
            notifier, channels = notifier_scenario()
            fed = Fed(notifier)
            for number in range(data.draw(st.integers(1, 6), label="facts")):
                tally.add(await _one_fact(fed, channels, data, number))

        asyncio.run(run())

    sequence()
    tally.report(record_property)


async def _one_fact(fed: Fed, channels: Channels, data: st.DataObject, number: int) -> str:
    """One generated fact on one of the topics the notifier reads; returns how it ended."""
    runtime = fed.runtime
    topics = sorted(t for t in runtime.routes if t != runtime.intake)
    topic = data.draw(st.sampled_from(topics), label="topic")
    owner = topic.split(".", 1)[0]
    fact_type = data.draw(st.sampled_from(sorted(runtime.routes[topic])), label="type")
    model = runtime.routes[topic][fact_type].model
    payload: Any = data.draw(valid(model), label="valid payload")
    kind = data.draw(
        st.sampled_from(["valid", "valid", "mutated", "forged_source", "foreign_type", "garbage"])
    )
    source = f"/services/{owner}"
    if kind == "mutated":
        payload = data.draw(mutated(payload), label="mutated payload")
    elif kind == "forged_source":
        others = ["/intake/fuzz", "/services/notifier", "/services/x"]
        # an owner has two topics (events, private): only another service's voice is forged
        others += [
            f"/services/{t.split('.', 1)[0]}" for t in topics if not t.startswith(f"{owner}.")
        ]
        source = data.draw(st.sampled_from(others), label="forged source")
    elif kind == "foreign_type":
        foreign = {
            t
            for other in topics
            if not other.startswith(f"{owner}.")
            for t in runtime.routes[other]
        }
        fact_type = data.draw(st.sampled_from(sorted(foreign)), label="foreign type")
    sent = Envelope(
        id=f"fact-{number}",
        source=source,
        type=fact_type,
        subject=subject_of(model, payload),
        data=payload,
    )
    raw = data.draw(garbage, label="garbage") if kind == "garbage" else sent.to_bytes()
    before = snapshot(fed.scenario.db)

    delivered = await fed.deliver([fed.record(topic, raw, key=sent.key)])

    _check_the_store_and_the_wire(fed, delivered)
    long = [m for m in channels.sms.sent if m.segments > SMS_SEGMENTS_MAX]
    assert long == [], f"an SMS of {long[0].segments} segments" if long else ""
    letters = delivered.dead
    assert all(d.reason != CRASHED for d in letters), f"crashed: {letters}"
    if kind in ("garbage", "forged_source", "foreign_type"):
        assert letters, f"{kind}: not dead-lettered"
    if letters:
        assert kind != "valid", f"a valid fact was dead-lettered: {letters}"
        assert snapshot(fed.scenario.db) == before, "dead-lettered, yet state changed"
        assert delivered.events == [], "dead-lettered, yet it published events"
        return f"dead_lettered:{kind}"
    read = reference_reading(raw)
    assert read is not None, "the notifier took a record that is no CloudEvent"
    if not accepts(model, read.data or {}):
        assert snapshot(fed.scenario.db) == before, "a fact its reader refuses changed state"
        assert delivered.events == [], "a fact its reader refuses caused events"
        return f"refused:{kind}"
    return f"handled:{kind}"
