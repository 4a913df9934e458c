"""A record the CLI cannot read never crashes `tail`, `story`, `report` or the demo's
watch: each skips it, counts it, and says how many it skipped."""

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from rich.console import Console
from typer.testing import CliRunner

from cli import report, story_command, tail
from cli.app import app
from cli.events import Event, parse
from cli.report_figures import count
from cli.stories.stage import Watch
from shared._kit.envelope import CloudEvent
from tests.unit.cli_events import T0, ev, poison, poison_bytes

STAMP_MS = int(T0.timestamp() * 1000)
COMMAND = ev("enterprise.declare_inventory", "cmd-1", command=True, subject="ent-a", cas="78-93-3")
CHANGED = ev(
    "enterprise.inventory_changed", "e-1", cause="cmd-1", at_s=0.2, subject="ent-a", cas="78-93-3"
)
POISONED = poison(ev("enterprise.over_capacity_detected", "e-2", cause="cmd-1", at_s=0.3))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (poison_bytes(CHANGED), "a number with more than 40 digits"),
        (b'{"id": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested deeper than 32 levels"),
        (b'{"specversion": "1.0", "id": NaN}', "NaN is not a JSON number"),
        (b"\xff\xfe{", "not UTF-8"),
        (b"x" * (2 * 1024 * 1024), "more than the limit"),
        (None, "no value (tombstone)"),
    ],
)
def test_whatever_a_record_holds_it_is_read_as_an_event_with_its_problem(
    value: bytes | None, problem: str
) -> None:
    event = parse("enterprise.events", 0, 7, STAMP_MS, value)

    assert event.type == "?"
    assert event.problem is not None
    assert problem in event.problem


def test_a_timestamp_no_calendar_holds_is_a_problem_not_a_crash() -> None:
    event = parse("enterprise.events", 0, 7, 2**62, b"{}")

    assert event.problem == f"timestamp {2**62}"


def test_whatever_the_parser_raises_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    def exploding(raw: bytes) -> CloudEvent:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(CloudEvent, "from_bytes", exploding)

    event = parse("enterprise.events", 0, 7, STAMP_MS, b"{}")

    assert event.problem == "RecursionError: maximum recursion depth exceeded"


def _following(events: Sequence[Event]) -> Any:
    async def follow(
        bootstrap: str, topics: Sequence[str], *, from_beginning: bool = False
    ) -> AsyncIterator[Event]:
        for event in events:
            yield event

    return follow


@pytest.mark.parametrize("json_out", [False, True])
async def test_tail_goes_on_past_a_poison_record_and_counts_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], json_out: bool
) -> None:
    monkeypatch.setattr(tail, "follow", _following([COMMAND, POISONED, CHANGED]))
    console = Console(record=True, width=200, color_system=None)

    await tail.run_tail(
        "unused:1",
        ["enterprise.events"],
        types=[],
        subject=None,
        correlation=None,
        json_out=json_out,
        lang="en",
        from_beginning=True,
        console=console,
    )

    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.splitlines()] if json_out else []
    shown = console.export_text()
    if json_out:
        assert [line["id"] for line in lines] == ["cmd-1", "", "e-1"]
        assert lines[1]["problem"] == "a number with more than 40 digits"
    else:
        assert "ent-a" in shown
        assert shown.count("\n") == 3
    assert "1 unreadable records skipped" in out.err


def _reading(events: Sequence[Event]) -> Any:
    async def read_all(bootstrap: str, topics: Sequence[str] = ()) -> list[Event]:
        return list(events)

    return read_all


def test_story_skips_a_poison_record_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(story_command, "read_all", _reading([COMMAND, POISONED, CHANGED]))

    result = CliRunner().invoke(app, ["story", "story-1", "--lang", "en"])

    assert result.exit_code == 0, result.output
    assert "inventory" in result.stdout
    assert "1 unreadable records skipped" in result.stderr


def test_the_reports_figures_skip_what_cannot_be_read_and_count_it() -> None:
    good = ev("outreach.fraud_dissuaded", "f-1", block="block-07", amount_yuan=21_000)
    hostile = [
        ev("outreach.fraud_dissuaded", "f-2", block="block-07", amount_yuan="lots"),
        ev("enterprise.transfer_completed", "t-1", cas="78-93-3", quantity_kg="inf"),
        ev("mediation.case_resolved", "c-1", category="family", days_open=[1]),
        ev("enterprise.over_capacity_detected", "a-1", cas=["not", "hashable"]),
        poison(ev("outreach.fraud_dissuaded", "f-3", block="block-07", amount_yuan=5)),
    ]
    day = (T0.date(), T0.date())

    figures = count([good, *hostile], *day)

    assert figures.unreadable == 4
    assert figures.totals()["yuan_protected"] == 21_000
    assert figures.totals()["fraud_dissuaded"] == 1
    assert dict(figures.chemicals) == {}, "a fact that did not count left no trace"
    assert dict(figures.disputes) == {}


def test_the_report_command_says_how_many_records_it_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    good = ev("outreach.fraud_dissuaded", "f-1", block="block-07", amount_yuan=21_000)
    monkeypatch.setattr(report, "read_all", _reading([good, POISONED]))
    day = T0.date().isoformat()

    result = CliRunner().invoke(
        app, ["report", "--from", day, "--to", day, "--out", str(tmp_path), "--lang", "en"]
    )

    assert result.exit_code == 0, result.output
    assert "1 unreadable records skipped" in result.stdout
    assert (tmp_path / "report.html").exists()


class _Records:
    """A consumer that gives one batch, then nothing."""

    def __init__(self, values: Sequence[bytes | None]) -> None:
        self.batches = [
            [
                ConsumerRecord("enterprise.events", 0, n, STAMP_MS, 0, None, v, None, 0, 0, [])
                for n, v in enumerate(values)
            ]
        ]

    async def getmany(self, timeout_ms: int) -> dict[str, list[ConsumerRecord[bytes, bytes]]]:
        if self.batches:
            return {"tp": self.batches.pop()}
        await asyncio.sleep(timeout_ms / 1000)
        return {}


async def test_the_demos_watch_skips_a_poison_record_and_counts_it() -> None:
    watch = Watch("unused:1")
    good = CloudEvent(id="e-1", source="/services/enterprise", type="enterprise.x", subject="s")
    watch._consumer = _Records([good.to_bytes(), poison_bytes(CHANGED), None])
    reading = asyncio.create_task(watch._read())
    try:
        await asyncio.wait_for(watch.wait(lambda: bool(watch.events)), timeout=5)
    finally:
        reading.cancel()

    assert [e.id for e in watch.events] == ["e-1"]
    assert watch.unreadable == 2


async def test_tail_shows_an_event_whose_data_is_not_shaped_as_its_type_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    odd = [
        ev("enterprise.command_rejected", "r-1", errors={"not": "a list"}, reason=["x"]),
        ev("notifier.notification_sent", "n-1", recipient="not an object"),
        ev("enterprise.redistribution_proposed", "p-1", transfers=[1, 2], unallocated_kg="x"),
    ]
    monkeypatch.setattr(tail, "follow", _following(odd))
    console = Console(record=True, width=200, color_system=None)

    await tail.run_tail(
        "unused:1",
        ["enterprise.events"],
        types=[],
        subject=None,
        correlation=None,
        json_out=False,
        lang="en",
        from_beginning=True,
        console=console,
    )

    assert console.export_text().count("\n") == 3
