"""The CLI's reader on the real broker: a poison record and a tombstone among good ones
are read as unreadable Events; the story and the report are built from the rest."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from cli.events import read_all, unreadable
from cli.report_figures import count, local_day
from cli.story import build_story
from shared._kit.envelope import CloudEvent
from tests.support import Infra, Raw, produce_raw

pytestmark = pytest.mark.integration


async def test_a_poison_record_on_a_topic_is_read_skipped_and_counted(
    infra: Infra, fresh_topic: Callable[..., Awaitable[str]]
) -> None:
    topic = await fresh_topic("outreach", partitions=1)
    now = datetime.now(UTC)
    fact = CloudEvent(
        id="f-1",
        source="/services/outreach",
        type="outreach.fraud_dissuaded",
        subject="report-1",
        time=now,
        correlationid="story-1",
        data={"source_id": "report-1", "block": "block-07", "amount_yuan": 21_000, "n": 1},
    )
    poison = (
        fact.model_copy(update={"id": "f-2"}).to_bytes().replace(b'"n":1', b'"n":' + b"9" * 5000)
    )
    await produce_raw(
        infra.kafka_bootstrap_servers,
        topic,
        [Raw(fact.to_bytes(), b"report-1"), Raw(poison, b"report-1"), Raw(None)],
    )

    found = await read_all(infra.kafka_bootstrap_servers, [topic], timeout_s=30)

    assert [(e.id, e.problem) for e in found] == [
        ("f-1", None),
        ("", "a number with more than 40 digits"),
        ("", "no value (tombstone)"),
    ]
    assert unreadable(found) == 2
    assert [e.id for e in build_story(found, "story-1").events()] == ["f-1"]
    day = local_day(found[0])  # the station's day (UTC+8)
    figures = count(found, day, day)
    assert (figures.unreadable, figures.totals()["yuan_protected"]) == (2, 21_000)
