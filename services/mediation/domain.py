"""Rules of the mediation service: mediators, cases, sessions, agreements, follow-ups, SLAs.

Pure decisions from a typed state to a `Change` (the new state and the facts it states);
a broken rule raises `Rejected`. No Kafka, MongoDB, clock or logging: times come in as
arguments. Who mediates a case is decided in assignment.py; mediators' slots and the
waiting list in mediators.py; sessions, follow-ups and deadlines in sessions.py.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import cast

from services.mediation import messages as m
from services.mediation.state import CaseState, MediatorState, TermState
from shared import Change, Rejected

# due dates are the station's calendar days (China Standard Time)
STATION_TZ = timezone(timedelta(hours=8), "CST")
REFERRALS: dict[m.EscalationReason, m.Referral] = {
    "no_mediator_available": "station",
    "no_agreement": "court",
    "obligation_breached": "court",
    "overdue": "station",
}


def case_id_for_dispute(dispute_id: str) -> str:
    """One case per reported dispute: the same id on every redelivery."""
    return f"case-{dispute_id}"


def case_id_for_visit(visit_id: str) -> str:
    """One case per dispute found on a visit."""
    return f"case-visit-{visit_id}"


def category_or_reject(category: str) -> m.Category:
    if category not in m.CATEGORIES:
        raise Rejected(m.UNKNOWN_CATEGORY, f"{category!r} is not one of {', '.join(m.CATEGORIES)}")
    return cast(m.Category, category)


def days_between(start: datetime, end: datetime) -> float:
    return round(max(0.0, (end - start).total_seconds()) / 86_400, 2)


def term_overdue_at(due_date: date) -> datetime:
    """A term is past due once its due date is over, at midnight station time (in UTC, as
    every stored time)."""
    return datetime.combine(due_date + timedelta(days=1), time(0), STATION_TZ).astimezone(UTC)


@dataclass(frozen=True)
class Slas:
    """How long a case may wait for its first session, and to be resolved (settings)."""

    session_deadline: timedelta
    resolution_target: timedelta


# -- opening ----------------------------------------------------------------------------


def reported_case(cmd: m.ReportDispute, *, now: datetime, slas: Slas) -> CaseState:
    """The case a reported dispute opens, with its deadlines."""
    return CaseState(
        case_id=case_id_for_dispute(cmd.dispute_id),
        dispute_id=cmd.dispute_id,
        category=category_or_reject(cmd.category),
        source=cmd.source,
        block=cmd.block,
        urgency=cmd.urgency,
        parties=[m.CaseParty(name=p.name, role=p.role, phone=p.phone) for p in cmd.parties],
        description=cmd.description,
        opened_at=now,
        session_due_at=now + slas.session_deadline,
        target_due_at=now + slas.resolution_target,
    )


def detected_case(found: m.DisputeDetected, *, now: datetime, slas: Slas) -> CaseState:
    """The case a dispute found on a visit opens (an unknown category counts as `other`:
    the visitor's report is never dropped)."""
    category = found.category if found.category in m.CATEGORIES else "other"
    return CaseState(
        case_id=case_id_for_visit(found.visit_id),
        dispute_id=found.visit_id,
        category=cast(m.Category, category),
        source="outreach",
        block=found.block,
        urgency="normal",
        parties=[m.CaseParty(name=p.name, role=p.role or "third_party") for p in found.parties],
        description=found.description,
        household_id=found.household_id,
        opened_at=now,
        session_due_at=now + slas.session_deadline,
        target_due_at=now + slas.resolution_target,
    )


def open_case(
    state: CaseState | None, new: CaseState, *, resolved_on_site: bool = False
) -> Change[CaseState]:
    """A case opens; one settled on the spot is resolved in the same change, so it counts
    in the station's figures."""
    if state is not None:
        raise Rejected(
            m.DISPUTE_ALREADY_REPORTED, f"{new.dispute_id} is already case {state.case_id}"
        )
    opened = m.CaseOpened(
        **new.model_dump(
            include={
                "case_id",
                "dispute_id",
                "category",
                "source",
                "block",
                "urgency",
                "parties",
                "description",
                "opened_at",
                "household_id",
            }
        ),
        resolved_on_site=resolved_on_site,
    )
    if not resolved_on_site:
        return Change(new, [opened])
    closed = _closed(new, "resolved", new.opened_at, resolved_how="resolved_on_site")
    return Change(
        closed,
        [
            opened,
            m.CaseResolved(
                case_id=new.case_id,
                how="resolved_on_site",
                sessions=0,
                days_open=0.0,
                mediator_id=None,
                category=new.category,
            ),
        ],
    )


# -- assignment -------------------------------------------------------------------------


def assign(
    state: CaseState | None, mediator: MediatorState, reason: m.AssignmentReason
) -> Change[CaseState] | None:
    """A waiting case gets the mediator whose slot was reserved for it (a case already
    assigned keeps its mediator: the caller frees the slot it reserved in vain)."""
    if state is None or state.status != "waiting":
        return None
    assigned = m.MediatorAssigned(
        case_id=state.case_id,
        mediator_id=mediator.mediator_id,
        mediator_name=mediator.name,
        mediator_phone=mediator.phone,
        reason=reason,
        mediator_kind=mediator.kind,
        category=state.category,
        urgency=state.urgency,
        block=state.block,
        active_cases=mediator.load,
        max_active_cases=mediator.max_active_cases,
    )
    new = state.model_copy(update={"status": "in_mediation", "mediator_id": mediator.mediator_id})
    return Change(new, [assigned])


def no_mediator_available(state: CaseState | None) -> Change[CaseState] | None:
    """Nobody may take the case now: escalated to the station once; it keeps waiting."""
    if state is None or state.status != "waiting" or state.waiting_escalated:
        return None
    return Change(
        state.model_copy(update={"waiting_escalated": True}),
        [_escalated(state, "no_mediator_available")],
    )


# -- closing ----------------------------------------------------------------------------


def _closed(state: CaseState, status: str, at: datetime, **fields: object) -> CaseState:
    return state.model_copy(
        update={
            "status": status,
            "closed_at": at,
            "days_open": days_between(state.opened_at, at),
            **fields,
        }
    )


def _escalated(state: CaseState, reason: m.EscalationReason) -> m.CaseEscalated:
    return m.CaseEscalated(
        case_id=state.case_id,
        reason=reason,
        referred_to=REFERRALS[reason],
        mediator_id=state.mediator_id,
        sessions=state.sessions,
        category=state.category,
    )


def escalate(state: CaseState, reason: m.EscalationReason, at: datetime) -> Change[CaseState]:
    """The case is closed and referred on; its mediator's slot is freed."""
    closed = _closed(
        state,
        "escalated",
        at,
        escalation_reason=reason,
        referred_to=REFERRALS[reason],
    )
    return Change(closed, [_escalated(closed, reason)])


def resolve(state: CaseState, at: datetime) -> Change[CaseState]:
    """Every term fulfilled: the case is resolved; its mediator's slot is freed."""
    closed = _closed(state, "resolved", at, resolved_how="agreement_fulfilled")
    return Change(
        closed,
        [
            m.CaseResolved(
                case_id=state.case_id,
                how="agreement_fulfilled",
                sessions=state.sessions,
                days_open=closed.days_open or 0.0,
                mediator_id=state.mediator_id,
                category=state.category,
            )
        ],
    )


def new_terms(terms: list[m.Term]) -> list[TermState]:
    return [
        TermState(
            party=t.party,
            obligation=t.obligation,
            due_date=t.due_date,
            overdue_at=term_overdue_at(t.due_date),
        )
        for t in terms
    ]
