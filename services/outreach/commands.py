"""The commands the outreach service takes on `outreach.intake`, and its one timer.

Blocks and fraud schemes are plain strings in the schema, checked by the rules, so that a
wrong one is refused with its own reason (`unknown_block`, `unknown_scheme`) rather than
as invalid data.
"""

from datetime import date

from pydantic import Field

from services.outreach.vocabulary import (
    BLOCK_NOTE,
    SCHEME_NOTE,
    Channel,
    Findings,
    HomeService,
    HouseholdProfile,
    Requester,
    ServicePerson,
    Severity,
    Target,
    VisitOutcome,
    VolunteerProfile,
)
from shared import Command, Timer


class RegisterHousehold(
    HouseholdProfile, Command, type="outreach.register_household", subject="household_id"
):
    """Register a household, or update its registration (its visits stay)."""


class RegisterVolunteer(
    VolunteerProfile, Command, type="outreach.register_volunteer", subject="volunteer_id"
):
    """Register a volunteer, or update one (open visits stay; more room fills coverage gaps)."""


class IssueFraudWarning(Command, type="outreach.issue_fraud_warning", subject="warning_id"):
    """A fraud warning: a door-knocking campaign to the households it targets."""

    warning_id: str = Field(min_length=1)
    scheme: str = Field(description=SCHEME_NOTE)
    title: str
    description: str
    target: Target
    blocks: list[str] = Field(default_factory=list, description="empty: every block")
    severity: Severity
    issued_by: str


class ReportFraudAttempt(Command, type="outreach.report_fraud_attempt", subject="report_id"):
    """A fraud attempt someone reported (dissuaded or not); clusters launch campaigns."""

    report_id: str = Field(min_length=1)
    scheme: str = Field(description=SCHEME_NOTE)
    block: str = Field(description=BLOCK_NOTE)
    household_id: str | None = None
    channel: Channel
    amount_at_risk_yuan: int = Field(ge=0)
    dissuaded: bool


class ReportVisit(Command, type="outreach.report_visit", subject="visit_id"):
    """The volunteer a visit is assigned to reports it, once per assignment."""

    visit_id: str = Field(min_length=1)
    volunteer_id: str = Field(min_length=1)
    outcome: VisitOutcome
    topics_covered: list[str] = Field(default_factory=list)
    findings: Findings | None = Field(
        default=None, description="only on a completed visit (else: findings_without_visit)"
    )


class RequestHomeService(Command, type="outreach.request_home_service", subject="request_id"):
    """A home visit by an officer (ID card, residence registration) on a preferred day."""

    request_id: str = Field(min_length=1)
    service: HomeService
    person: ServicePerson
    requested_by: Requester
    address: str = Field(min_length=1)
    block: str = Field(description=BLOCK_NOTE)
    preferred_dates: list[date] = Field(
        description="at least one, none before today (else: no_preferred_dates, date_in_the_past)"
    )


class CompleteHomeService(Command, type="outreach.complete_home_service", subject="request_id"):
    """The booked officer did the home service."""

    request_id: str = Field(min_length=1)
    officer_id: str = Field(min_length=1)
    notes: str | None = None


class BlockDue(Timer, type="outreach.block_due", subject="block"):
    """Visits in a block fall due (overdue) or may be tried again (not home): one timer per
    block and slice of time, however many visits."""

    block: str
