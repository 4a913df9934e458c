"""The figures the station reports for mediation (`/stats`), from the cases as stored."""

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

from services.mediation.state import OPEN_STATUSES

STATS_FIELDS = (
    "status",
    "category",
    "source",
    "days_open",
    "resolved_how",
    "escalation_reason",
    "waiting_escalated",
)


def _counted(values: Iterable[object]) -> dict[str, int]:
    return dict(sorted(Counter(str(v) for v in values).items()))


def case_figures(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Cases by state, category and source; resolutions and escalations."""
    by_state = Counter(str(c["status"]) for c in cases)
    resolved = [c for c in cases if c["status"] == "resolved"]
    closed = by_state["resolved"] + by_state["escalated"]
    days = [float(c["days_open"]) for c in resolved if c.get("days_open") is not None]
    escalations = [
        *(c["escalation_reason"] for c in cases if c.get("escalation_reason")),
        *("no_mediator_available" for c in cases if c.get("waiting_escalated")),
    ]
    return {
        "cases": len(cases),
        "cases_open": sum(by_state[s] for s in OPEN_STATUSES),
        "cases_by_state": _counted(c["status"] for c in cases),
        "cases_by_category": _counted(c["category"] for c in cases),
        "cases_by_source": _counted(c["source"] for c in cases),
        "resolved_on_site": sum(1 for c in resolved if c.get("resolved_how") == "resolved_on_site"),
        "escalations_by_reason": _counted(escalations),
        # of the cases that ended, the share resolved (open cases have not failed yet)
        "resolution_rate": round(by_state["resolved"] / closed, 3) if closed else None,
        "median_days_to_resolution": round(statistics.median(days), 2) if days else None,
    }
