"""The station's figures over a period, counted from the events topics (never from the
services' databases): what `station report` draws and tabulates.

A fact counts in the period when its own time, in the station's local time (UTC+8), falls
on a day from `start` to `end`, both included. The same fact read twice (a redelivery, a
second replica) counts once. A record that cannot be read, or a fact whose figures are
not numbers (anyone who can write a topic can write one), counts as `unreadable`: the
report is made from the rest and says how many it skipped.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import isfinite
from statistics import median
from typing import Any

from cli.events import Event

CST = timedelta(hours=8)


def local_day(event: Event) -> date:
    return (event.at + CST).date()


def week_of(day: date) -> str:
    """ISO week: `2026-W48`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Fraud:
    dissuaded: int = 0
    yuan: int = 0


@dataclass
class Visits:
    planned: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)


@dataclass
class Disputes:
    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    days: list[float] = field(default_factory=list)

    @property
    def median_days(self) -> float | None:
        return median(self.days) if self.days else None


@dataclass
class Chemical:
    name_zh: str = ""
    name_en: str = ""
    redistributed_kg: float = 0.0
    escalated_kg: float = 0.0


@dataclass
class Notifications:
    sent: int = 0
    failed: int = 0


@dataclass
class Figures:
    start: date
    end: date
    # (block, week) → dissuasions and yuan protected
    fraud: dict[tuple[str, str], Fraud] = field(default_factory=lambda: defaultdict(Fraud))
    visits: dict[str, Visits] = field(default_factory=lambda: defaultdict(Visits))
    disputes: dict[str, Disputes] = field(default_factory=lambda: defaultdict(Disputes))
    chemicals: dict[str, Chemical] = field(default_factory=lambda: defaultdict(Chemical))
    notifications: dict[str, Notifications] = field(
        default_factory=lambda: defaultdict(Notifications)
    )
    facts: int = 0
    unreadable: int = 0

    def totals(self) -> dict[str, float]:
        """The headline: what the station reports for the period."""
        resolved = [d for v in self.disputes.values() for d in v.days]
        return {
            "fraud_dissuaded": sum(f.dissuaded for f in self.fraud.values()),
            "yuan_protected": sum(f.yuan for f in self.fraud.values()),
            "visits_done": sum(len(v.done) for v in self.visits.values()),
            "visits_planned": sum(len(v.planned) for v in self.visits.values()),
            "disputes_opened": sum(d.opened for d in self.disputes.values()),
            "disputes_resolved": sum(d.resolved for d in self.disputes.values()),
            "median_days": median(resolved) if resolved else 0.0,
            "kg_redistributed": sum(c.redistributed_kg for c in self.chemicals.values()),
            "kg_escalated": sum(c.escalated_kg for c in self.chemicals.values()),
            "notifications_sent": sum(n.sent for n in self.notifications.values()),
            "notifications_failed": sum(n.failed for n in self.notifications.values()),
        }


def count(events: Iterable[Event], start: date, end: date) -> Figures:
    """The figures of the period from `events` (any order, any topics)."""
    figures = Figures(start, end)
    seen: set[tuple[str, str]] = set()
    names: dict[str, tuple[str, str]] = {}
    for e in events:
        if e.problem:
            figures.unreadable += 1
            continue
        if (e.source, e.id) in seen:
            continue
        seen.add((e.source, e.id))
        if e.type == "enterprise.over_capacity_detected":  # names, whatever the period
            names[str(e.data.get("cas", ""))] = (
                str(e.data.get("chemical_name", "")),
                str(e.data.get("chemical_name_en", "")),
            )
        try:
            if start <= local_day(e) <= end and _count(figures, e):
                figures.facts += 1
        except (TypeError, ValueError, OverflowError):
            figures.unreadable += 1
    for cas, chemical in figures.chemicals.items():
        chemical.name_zh, chemical.name_en = names.get(cas, (cas, cas))
    return figures


def _number(data: dict[str, Any], key: str) -> float:
    """A figure of a fact: a finite number (ValueError otherwise, before anything counts)."""
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value):
        raise ValueError(f"{key} is not a number")
    return float(value)


def _count(f: Figures, e: Event) -> bool:
    """Count one fact; raises (having counted nothing) when its figures are not numbers."""
    d = e.data
    match e.type:
        case "outreach.fraud_dissuaded":
            yuan = int(_number(d, "amount_yuan"))
            fraud = f.fraud[(str(d.get("block")), week_of(local_day(e)))]
            fraud.dissuaded += 1
            fraud.yuan += yuan
        case "outreach.visit_assigned":
            f.visits[str(d.get("block"))].planned.add(str(d.get("visit_id")))
        case "outreach.visit_completed":
            if d.get("outcome") == "completed":
                f.visits[str(d.get("block"))].done.add(str(d.get("visit_id")))
        case "mediation.case_opened":
            f.disputes[str(d.get("category"))].opened += 1
        case "mediation.case_resolved":
            days = _number(d, "days_open")
            disputes = f.disputes[str(d.get("category"))]
            disputes.resolved += 1
            disputes.days.append(days)
        case "mediation.case_escalated":
            f.disputes[str(d.get("category"))].escalated += 1
        case "enterprise.transfer_completed":
            kg = _number(d, "quantity_kg")
            f.chemicals[str(d.get("cas"))].redistributed_kg += kg
        case "enterprise.redistribution_escalated":
            kg = _number(d, "unallocated_kg")
            f.chemicals[str(d.get("cas"))].escalated_kg += kg
        case "notifier.notification_sent":
            f.notifications[str(d.get("template"))].sent += 1
        case "notifier.notification_failed":
            f.notifications[str(d.get("template"))].failed += 1
        case _:
            return False
    return True
