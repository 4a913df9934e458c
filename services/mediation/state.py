"""What the mediation service stores: mediators and cases, as typed state."""

import math
from collections.abc import Iterator
from datetime import date, datetime
from typing import Literal

from pydantic import Field, computed_field

from services.mediation.messages import (
    CaseParty,
    Category,
    DisputeSource,
    EscalationReason,
    MediatorKind,
    Referral,
    ResolvedHow,
    Urgency,
)
from shared import State


class MediatorState(State):
    mediator_id: str
    name: str
    kind: MediatorKind
    specialties: list[Category]
    blocks: list[str]
    phone: str
    max_active_cases: int
    # the cases holding a slot: a case is added by a compare-and-set only while there is
    # room, and removed when it resolves or escalates
    active_cases: list[str] = Field(default_factory=list)

    @property
    def load(self) -> int:
        return len(self.active_cases)

    @property
    def has_room(self) -> bool:
        return self.load < self.max_active_cases


# waiting: no mediator yet; in_mediation: sessions under way; following_up: an agreement's
# terms are being checked; resolved and escalated close the case
CaseStatus = Literal["waiting", "in_mediation", "following_up", "resolved", "escalated"]
OPEN_STATUSES: frozenset[CaseStatus] = frozenset({"waiting", "in_mediation", "following_up"})


class TermState(State):
    party: str
    obligation: str
    due_date: date
    # past due from then on (the end of the due date, station time)
    overdue_at: datetime
    fulfilled: bool | None = None
    checked_at: datetime | None = None
    reminded: bool = False


class CaseState(State):
    case_id: str
    dispute_id: str
    category: Category
    source: DisputeSource
    block: str | None
    urgency: Urgency
    parties: list[CaseParty]
    description: str
    household_id: str | None = None
    opened_at: datetime
    # the SLA deadlines, fixed when the case opens (from the settings)
    session_due_at: datetime | None = None
    target_due_at: datetime | None = None
    status: CaseStatus = "waiting"
    mediator_id: str | None = None
    # escalated once as no_mediator_available while waiting
    waiting_escalated: bool = False
    sessions: int = 0
    sessions_without_agreement: int = 0
    session_overdue: bool = False
    terms: list[TermState] = Field(default_factory=list)
    follow_up_due: date | None = None
    closed_at: datetime | None = None
    resolved_how: ResolvedHow | None = None
    escalation_reason: EscalationReason | None = None
    referred_to: Referral | None = None
    days_open: float | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def pending_deadlines(self) -> Iterator[datetime]:
        """The deadlines still to act on: a first session, the one-month target, each term
        not checked nor reminded yet."""
        if not self.is_open:
            return
        if self.session_due_at is not None and self.sessions == 0 and not self.session_overdue:
            yield self.session_due_at
        if self.target_due_at is not None:
            yield self.target_due_at
        for term in self.terms:
            if term.fulfilled is None and not term.reminded:
                yield term.overdue_at

    def finished_at(self) -> datetime | None:
        """When the case closed: its parties' personal fields expire from then on."""
        return None if self.is_open else self.closed_at

    # stored with the state, so the deadline sweep finds the cases due with one query
    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_due_s(self) -> int | None:
        """The earliest pending deadline, in whole seconds since the epoch (rounded up)."""
        found = [math.ceil(d.timestamp()) for d in self.pending_deadlines()]
        return min(found) if found else None


class SweepPlan(State):
    """When the next deadline sweep is due (one document: the sweeps form one chain)."""

    next_at: datetime | None = None
    # the timer of that sweep: only the planner that set it schedules it
    timer_id: str | None = None


class WaitingCase(State):
    """A case nobody could take, as the waiting list keeps it."""

    case_id: str
    category: Category
    urgency: Urgency
    opened_at: datetime


class WaitingList(State):
    """The cases waiting for a mediator (one document: read whole when a slot frees up,
    instead of searching every case)."""

    cases: list[WaitingCase] = Field(default_factory=list)

    def offered_to(self, mediator: MediatorState) -> list[WaitingCase]:
        """The cases this mediator could take, urgent first, then oldest first."""
        fitting = [c for c in self.cases if c.category in mediator.specialties]
        return sorted(fitting, key=lambda c: (c.urgency != "high", c.opened_at, c.case_id))
