"""The commands the outreach service takes on `outreach.intake`, and its one timer.

Blocks and fraud schemes are plain strings in the schema, checked by the rules, so that a
wrong one is refused with its own reason (`unknown_block`, `unknown_scheme`) rather than
as invalid data.
"""

from typing import Annotated

from pydantic import Field

from services.outreach.vocabulary import (
    BLOCK_NOTE,
    SCHEME_NOTE,
    Blocks,
    Channel,
    Findings,
    HomeService,
    HouseholdProfile,
    Requester,
    ServicePerson,
    Severity,
    Target,
    Topics,
    VisitOutcome,
    VolunteerProfile,
)
from shared import Command, Day, EraseOrder, Id, Name, ShortText, Text, Timer, Yuan, bounded

PREFERRED_DATES_MAX = 10


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

    warning_id: Id
    scheme: Id = Field(description=SCHEME_NOTE)
    title: ShortText
    description: Text
    target: Target
    blocks: Blocks = Field(default_factory=list, description="empty: every block")
    severity: Severity
    issued_by: Name


class ReportFraudAttempt(Command, type="outreach.report_fraud_attempt", subject="report_id"):
    """A fraud attempt someone reported (dissuaded or not); clusters launch campaigns."""

    report_id: Id
    scheme: Id = Field(description=SCHEME_NOTE)
    block: Id = Field(description=BLOCK_NOTE)
    household_id: Id | None = None
    channel: Channel
    amount_at_risk_yuan: Yuan
    dissuaded: bool


class ReportVisit(Command, type="outreach.report_visit", subject="visit_id"):
    """The volunteer a visit is assigned to reports it, once per assignment."""

    visit_id: Id
    volunteer_id: Id
    outcome: VisitOutcome
    topics_covered: Topics = Field(default_factory=list)
    findings: Findings | None = Field(
        default=None, description="only on a completed visit (else: findings_without_visit)"
    )


class RequestHomeService(Command, type="outreach.request_home_service", subject="request_id"):
    """A home visit by an officer (ID card, residence registration) on a preferred day."""

    request_id: Id
    service: HomeService
    person: ServicePerson
    requested_by: Requester
    address: ShortText
    block: Id = Field(description=BLOCK_NOTE)
    preferred_dates: Annotated[list[Day], bounded(PREFERRED_DATES_MAX)] = Field(
        description="at least one, none before today (else: no_preferred_dates, date_in_the_past)"
    )


class CompleteHomeService(Command, type="outreach.complete_home_service", subject="request_id"):
    """The booked officer did the home service."""

    request_id: Id
    officer_id: Id
    notes: Text | None = None


class ErasePerson(EraseOrder, type="outreach.erase_person", subject="erasure_id"):
    """Erase a resident (PIPL): every record naming their phone or ID number is anonymised,
    and so is every copy of their name found there (`station erase`)."""


class BlockDue(Timer, type="outreach.block_due", subject="block"):
    """Visits in a block fall due (overdue) or may be tried again (not home): one timer per
    block and slice of time, however many visits."""

    block: str
