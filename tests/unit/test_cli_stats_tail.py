# ruff: noqa: RUF001
"""`stats`: the headline from the services' figures; `tail`: the filters."""

from typing import Any

import pytest
from rich.console import Console

from cli.stats import headline, render_stats
from cli.tail import matches, topics_for
from tests.unit.cli_events import ev

STATS: dict[str, dict[str, Any]] = {
    "mediation": {"service": "mediation", "cases": 3, "cases_by_state": {"resolved": 2}},
    "enterprise": {"service": "enterprise", "kg_redistributed": 10_000.0, "alerts_open": 0},
    "outreach": {
        "service": "outreach",
        "fraud_dissuaded": 1,
        "fraud_dissuaded_yuan": 21_000,
        "visits_by_state": {"completed": 5, "waiting": 1},
        "home_services_by_state": {"completed": 1, "scheduled": 0},
    },
    "notifier": {"error": "ConnectError: refused"},
}


def test_the_headline_is_what_the_station_reports() -> None:
    assert headline(STATS) == {
        "disputes_resolved": 2,
        "kg_redistributed": 10_000.0,
        "fraud_dissuaded": 1,
        "yuan_protected": 21_000,
        "visits_done": 5,
        "home_services_done": 1,
    }
    assert headline({}) == dict.fromkeys(headline({}), 0)


def test_the_table_shows_figures_and_who_did_not_answer() -> None:
    console = Console(width=160, record=True, color_system=None)
    console.print(render_stats(STATS, "zh"))
    text = console.export_text()
    assert "挽回损失（元）" in text
    assert "21,000" in text
    assert "visits_by_state.completed" in text
    assert "无法连接：ConnectError: refused" in text
    console = Console(width=160, record=True, color_system=None)
    console.print(render_stats(STATS, "en"))
    assert "kg redistributed" in console.export_text()


@pytest.mark.parametrize(
    ("types", "subject", "correlation", "expected"),
    [
        ((), None, None, True),
        (("enterprise.*",), None, None, True),
        (("over_capacity_detected",), None, None, True),
        (("*.command_rejected",), None, None, False),
        ((), "ent-1", None, True),
        ((), "ent-2", None, False),
        ((), None, "3f2a", True),
        ((), None, "3f2b", False),
    ],
)
def test_tail_filters(
    types: tuple[str, ...], subject: str | None, correlation: str | None, expected: bool
) -> None:
    event = ev("enterprise.over_capacity_detected", "a", subject="ent-1", corr="3f2a1c9b")
    assert matches(event, types, subject, correlation) is expected


def test_tail_reads_the_events_topics_and_on_request_commands_and_dead_letters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert topics_for(commands=False, dead_letters=False) == (
        "mediation.events",
        "enterprise.events",
        "outreach.events",
        "notifier.events",
    )
    monkeypatch.setenv("ENTERPRISE_TOPIC_PREFIX", "enterprise-t1")
    both = topics_for(commands=True, dead_letters=True)
    assert "enterprise-t1.intake" in both
    assert "enterprise-t1.events.dlq" in both
    assert "enterprise.events" not in both
