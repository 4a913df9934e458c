"""The report's figures are counted from events (period, weeks, duplicates, medians) and
written as one self-contained HTML page plus PNG charts."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cli.events import Event
from cli.report import write_report
from cli.report_figures import count, week_of

_offset = iter(range(10_000))


def fact(event_type: str, data: dict[str, Any], at: str, *, event_id: str | None = None) -> Event:
    n = next(_offset)
    when = datetime.fromisoformat(at)
    return Event(
        topic=f"{event_type.split('.', maxsplit=1)[0]}.events",
        partition=0,
        offset=n,
        timestamp=when,
        id=event_id or f"e{n}",
        type=event_type,
        source=f"/services/{event_type.split('.', maxsplit=1)[0]}",
        time=when,
        data=data,
    )


def dissuaded(block: str, yuan: int, at: str, **kw: Any) -> Event:
    return fact(
        "outreach.fraud_dissuaded", {"block": block, "amount_yuan": yuan, "scheme": "x"}, at, **kw
    )


def test_fraud_is_counted_per_block_and_local_week_within_the_period() -> None:
    events = [
        dissuaded("block-07", 21_000, "2026-11-23T10:00:00+08:00"),
        dissuaded("block-07", 5_000, "2026-11-24T10:00:00+08:00"),
        dissuaded("block-02", 1_000, "2026-11-30T01:00:00+08:00"),  # Monday: the next week
        # 2026-11-22 23:30 UTC is 2026-11-23 07:30 in the station: inside the period
        dissuaded("block-02", 700, "2026-11-22T23:30:00+00:00"),
        dissuaded("block-02", 999_999, "2026-11-22T12:00:00+08:00"),  # before the period
        dissuaded("block-02", 999_999, "2026-12-01T00:00:00+08:00"),  # after it
    ]
    figures = count(events, date(2026, 11, 23), date(2026, 11, 30))
    cells = {k: (v.dissuaded, v.yuan) for k, v in figures.fraud.items()}
    assert cells == {
        ("block-07", "2026-W48"): (2, 26_000),
        ("block-02", "2026-W49"): (1, 1_000),
        ("block-02", "2026-W48"): (1, 700),
    }
    assert figures.totals()["yuan_protected"] == 27_700
    assert figures.facts == 4


def test_a_fact_read_twice_counts_once() -> None:
    twice = dissuaded("block-07", 21_000, "2026-11-23T10:00:00+08:00", event_id="same")
    again = dissuaded("block-07", 21_000, "2026-11-23T10:00:00+08:00", event_id="same")
    figures = count([twice, again], date(2026, 11, 1), date(2026, 11, 30))
    assert figures.totals()["fraud_dissuaded"] == 1


def test_visits_disputes_chemicals_and_notifications() -> None:
    at = "2026-11-25T09:00:00+08:00"
    events = [
        fact("outreach.visit_assigned", {"visit_id": "v1", "block": "block-07"}, at),
        fact("outreach.visit_assigned", {"visit_id": "v2", "block": "block-07"}, at),
        fact("outreach.visit_assigned", {"visit_id": "v2", "block": "block-07"}, at),  # re-assigned
        fact(
            "outreach.visit_completed",
            {"visit_id": "v1", "block": "block-07", "outcome": "completed"},
            at,
        ),
        fact(
            "outreach.visit_completed",
            {"visit_id": "v2", "block": "block-07", "outcome": "not_home"},
            at,
        ),
        fact("mediation.case_opened", {"category": "family"}, at),
        fact("mediation.case_opened", {"category": "family"}, at),
        fact("mediation.case_opened", {"category": "family"}, at),
        fact("mediation.case_resolved", {"category": "family", "days_open": 1.0}, at),
        fact("mediation.case_resolved", {"category": "family", "days_open": 5.0}, at),
        fact("mediation.case_escalated", {"category": "family"}, at),
        fact(
            "enterprise.over_capacity_detected",
            {"cas": "78-93-3", "chemical_name": "丁酮", "chemical_name_en": "butanone"},
            "2026-01-01T00:00:00+08:00",  # before the period: still names the chemical
        ),
        fact("enterprise.transfer_completed", {"cas": "78-93-3", "quantity_kg": 4_000}, at),
        fact("enterprise.transfer_completed", {"cas": "78-93-3", "quantity_kg": 6_000}, at),
        fact("enterprise.redistribution_escalated", {"cas": "78-93-3", "unallocated_kg": 500}, at),
        fact("notifier.notification_sent", {"template": "visit_assigned"}, at),
        fact("notifier.notification_failed", {"template": "visit_assigned"}, at),
    ]
    figures = count(events, date(2026, 11, 1), date(2026, 11, 30))
    visits = figures.visits["block-07"]
    assert (len(visits.done), len(visits.planned)) == (1, 2)
    family = figures.disputes["family"]
    assert (family.opened, family.resolved, family.escalated, family.median_days) == (3, 2, 1, 3.0)
    butanone = figures.chemicals["78-93-3"]
    assert (butanone.name_zh, butanone.redistributed_kg, butanone.escalated_kg) == (
        "丁酮",
        10_000,
        500,
    )
    assert (
        figures.notifications["visit_assigned"].sent,
        figures.notifications["visit_assigned"].failed,
    ) == (1, 1)


def test_weeks_are_iso_weeks() -> None:
    assert week_of(date(2026, 11, 28)) == "2026-W48"
    assert week_of(date(2027, 1, 1)) == "2026-W53"


def test_the_report_is_one_self_contained_page_and_a_png_per_chart(tmp_path: Path) -> None:
    events = [
        dissuaded("block-07", 21_000, "2026-11-23T10:00:00+08:00"),
        fact(
            "mediation.case_resolved",
            {"category": "construction_payment", "days_open": 2.0},
            "2026-11-23T10:00:00+08:00",
        ),
    ]
    figures = count(events, date(2026, 11, 1), date(2026, 11, 30))
    written = write_report(figures, tmp_path / "r", "zh", datetime(2026, 11, 28, tzinfo=UTC))
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert [p.name for p in written] == [
        "report.html",
        "fraud.png",
        "visits.png",
        "disputes.png",
        "chemicals.png",
        "notifications.png",
    ]
    for png in written[1:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "县派出所工作数据报告" in html
    assert "21,000" in html
    assert "工程款" in html
    assert html.count("<svg") == 5
    # self-contained: nothing is loaded from anywhere else
    assert 'href="http' not in html
    assert 'src="http' not in html
    assert "https://" not in html
    assert "<script" not in html
    assert "<link" not in html


def test_the_report_in_english(tmp_path: Path) -> None:
    figures = count([], date(2026, 11, 1), date(2026, 11, 30))
    write_report(figures, tmp_path, "en")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "County police station report" in html
    assert "nothing in this period" in html
