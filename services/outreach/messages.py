"""The outreach service's contract: the facts it states and why it refuses a command.

Its commands are in `commands.py`. Each class carries its CloudEvents type and the field
that is its subject (the Kafka key). `docs/contract.md` and `docs/asyncapi/outreach.json`
are generated from here and from the handlers' commands.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime

from services.outreach.vocabulary import (
    Channel,
    DisputeCategory,
    HomeService,
    HouseholdProfile,
    Party,
    Requester,
    ServicePerson,
    Severity,
    Trigger,
    VisitOutcome,
    VolunteerProfile,
)
from shared import PERSONAL, Fact, PersonErasedFact, Reason

# -- the registry -----------------------------------------------------------------------


class HouseholdRegistered(
    HouseholdProfile, Fact, type="outreach.household_registered", subject="household_id"
):
    """The household as stored."""


class VolunteerRegistered(
    VolunteerProfile, Fact, type="outreach.volunteer_registered", subject="volunteer_id"
):
    """The volunteer as stored, with the visits they hold now (`open_visits`, an addition)."""

    open_visits: int


# -- campaigns and visits ---------------------------------------------------------------


class CampaignLaunched(Fact, type="outreach.campaign_launched", subject="campaign_id"):
    """A campaign from a fraud warning or a cluster of attempt reports (`trigger`).

    `households_targeted`: households in the blocks that fit the target;
    `visits_planned`: those of them not visited about the scheme in the last 30 days
    (one visit each); `recently_visited` (an addition) is the difference. For a
    `fraud_cluster` campaign `warning_id` is the cluster's id."""

    campaign_id: str
    warning_id: str
    scheme: str
    blocks: list[str]
    trigger: Trigger
    households_targeted: int
    visits_planned: int
    recently_visited: int
    severity: Severity
    title: str


class VisitAssigned(Fact, type="outreach.visit_assigned", subject="visit_id"):
    """A visit given to a volunteer of its block: the fewest open visits below their maximum,
    higher priority first. `attempt` (an addition) is 2 for a household's second try."""

    visit_id: str
    campaign_id: str
    volunteer_id: str
    volunteer_name: Annotated[str, PERSONAL]
    household_id: str
    block: str
    priority: int
    topics: list[str]
    due_by: AwareDatetime
    scheme: str
    attempt: int


class CoverageGapDetected(Fact, type="outreach.coverage_gap_detected", subject="campaign_id"):
    """No volunteer of the block has room for these visits of a campaign; they are given out
    as soon as a volunteer of the block registers or frees up."""

    campaign_id: str
    block: str
    households_unassigned: int


class VisitsNotPlanned(Fact, type="outreach.visits_not_planned", subject="campaign_id"):
    """Households of a campaign in a block that get no visit because the block keeps as
    many visits as it may (an addition): the least urgent of them, by priority."""

    campaign_id: str
    block: str
    households_not_visited: int
    reason: Literal["block_full"]


class VisitCompleted(Fact, type="outreach.visit_completed", subject="visit_id"):
    """A visit was reported (whatever its outcome); the volunteer's slot is free again.

    `retry` (an addition): a household not at home is assigned once more, later."""

    visit_id: str
    household_id: str
    volunteer_id: str
    outcome: VisitOutcome
    topics_covered: list[str]
    campaign_id: str
    block: str
    retry: bool


class VisitOverdue(Fact, type="outreach.visit_overdue", subject="visit_id"):
    """A visit not reported by its due date (an addition): the volunteer's slot is freed and,
    on its first assignment, the visit is given out again (`reassigned`)."""

    visit_id: str
    campaign_id: str
    household_id: str
    block: str
    volunteer_id: str
    due_by: AwareDatetime
    reassigned: bool


class FraudDissuaded(Fact, type="outreach.fraud_dissuaded", subject="source_id"):
    """Fraud talked out of: from a visit's finding (`source_id` the visit) or a dissuaded
    attempt report (`source_id` the report); `source` (an addition) says which."""

    source_id: str
    household_id: str | None
    block: str
    scheme: str
    amount_yuan: int
    source: Literal["visit", "attempt_report"]


class DisputeDetected(Fact, type="outreach.dispute_detected", subject="visit_id"):
    """A dispute found on a visit: the mediation service opens a case (resolved at once when
    it was settled on the spot). `found_by` is the volunteer."""

    visit_id: str
    household_id: str
    block: str
    category: DisputeCategory
    parties: list[Party]
    description: Annotated[str, PERSONAL]
    resolved_on_site: bool
    found_by: str
    found_by_name: Annotated[str, PERSONAL]


class FraudAttemptReported(Fact, type="outreach.fraud_attempt_reported", subject="report_id"):
    """An attempt report as stored (an addition); a dissuaded one also states
    `fraud_dissuaded`."""

    report_id: str
    scheme: str
    block: str
    household_id: str | None
    channel: Channel
    amount_at_risk_yuan: int
    dissuaded: bool


# -- home services ----------------------------------------------------------------------


class HomeServiceScheduled(Fact, type="outreach.home_service_scheduled", subject="request_id"):
    """An officer's home visit, on the earliest preferred day with room, else the first day
    with room after them (`on_preferred_date` false)."""

    request_id: str
    service: HomeService
    appointment_date: date
    officer_id: str
    address: Annotated[str, PERSONAL]
    block: str
    requested_by: Requester
    person: ServicePerson
    officer_name: Annotated[str, PERSONAL]
    on_preferred_date: bool


class HomeServiceCompleted(Fact, type="outreach.home_service_completed", subject="request_id"):
    """The home service was done."""

    request_id: str
    officer_id: str
    service: HomeService
    notes: str | None


class PersonErased(PersonErasedFact, type="outreach.person_erased", subject="erasure_id"):
    """A resident was erased from the outreach service's database: how many records changed."""


# -- why a command is refused -----------------------------------------------------------

UNKNOWN_BLOCK = Reason("unknown_block", "a block that is not `block-01` … `block-18`")
NO_BLOCKS = Reason("no_blocks", "a volunteer serving no block")
ROSTER_FULL = Reason(
    "roster_full",
    "a new volunteer, or a larger maximum, past what the roster holds (volunteers or slots)",
)
BLOCK_FULL = Reason("block_full", "a new household in a block that holds as many as it may")
UNKNOWN_SCHEME = Reason("unknown_scheme", "a fraud scheme that is not in the catalogue")
EMPTY_TARGET = Reason(
    "empty_target", "a warning naming no business type, no minimum age and not all households"
)
WARNING_ALREADY_ISSUED = Reason(
    "warning_already_issued", "a warning id that already launched a campaign"
)
UNKNOWN_HOUSEHOLD = Reason("unknown_household", "the household is not registered")
HOUSEHOLD_NOT_IN_BLOCK = Reason(
    "household_not_in_block", "an attempt report whose household lives in another block"
)
REPORT_ALREADY_RECORDED = Reason(
    "report_already_recorded", "an attempt report id that was already recorded"
)
UNKNOWN_VISIT = Reason("unknown_visit", "no such visit was ever planned")
UNKNOWN_VOLUNTEER = Reason("unknown_volunteer", "the volunteer is not registered")
ASSIGNED_TO_ANOTHER = Reason(
    "assigned_to_another_volunteer", "a report for a visit assigned to someone else"
)
VISIT_ALREADY_REPORTED = Reason(
    "visit_already_reported", "a second report for the same visit (or assignment)"
)
VISIT_NOT_ASSIGNED = Reason("visit_not_assigned", "a report for a visit nobody holds now")
FINDINGS_WITHOUT_VISIT = Reason(
    "findings_without_visit", "findings on a visit that was not completed"
)
NO_PREFERRED_DATES = Reason("no_preferred_dates", "a home-service request without a date")
DATE_IN_THE_PAST = Reason("date_in_the_past", "a preferred date before today (local time)")
DATE_TOO_FAR = Reason("date_too_far", "a preferred date further ahead than bookings are taken")
AGENDA_FULL = Reason("agenda_full", "the agenda holds as many future bookings as it may")
NO_OFFICER = Reason("no_officer_available", "no police volunteer is registered")
NO_ROOM = Reason("no_room", "no officer has room on any day within the booking horizon")
REQUEST_ALREADY_MADE = Reason("request_already_made", "a home-service request id used before")
UNKNOWN_REQUEST = Reason("unknown_request", "no such home-service request")
NOT_THE_OFFICER = Reason("not_the_officer", "the home service is booked with another officer")
ALREADY_COMPLETED = Reason("already_completed", "the home service was already completed")
