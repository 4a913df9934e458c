"""The mediation service's contract: the commands it takes, the facts it states, why it refuses.

Each class carries its CloudEvents type and the field that is its subject (the Kafka
key). Every fact about a case is keyed by the case, so a case's story is read in order.
`docs/contract.md` and `docs/asyncapi/mediation.json` are generated from here.
"""

from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared import (
    PERSONAL,
    Command,
    Day,
    Distinct,
    EraseOrder,
    Fact,
    Id,
    Moment,
    Name,
    PersonErasedFact,
    PhoneNumber,
    Reason,
    ShortText,
    Text,
    Timer,
    bounded,
)

Category = Literal[
    "construction_payment",
    "labour_wage",
    "family",
    "neighbour",
    "commercial",
    "traffic",
    "property",
    "other",
]
CATEGORIES: tuple[str, ...] = get_args(Category)
MediatorKind = Literal["station_full_time", "community", "village", "lawyer", "police_officer"]
DisputeSource = Literal["walk_in", "hotline", "police_call", "outreach"]
PartyRole = Literal["applicant", "respondent", "third_party"]
Urgency = Literal["normal", "high"]
SessionOutcome = Literal["agreement", "no_agreement", "adjourned"]
EscalationReason = Literal[
    "no_mediator_available", "no_agreement", "obligation_breached", "overdue"
]
Referral = Literal["court", "police", "station"]
ResolvedHow = Literal["agreement_fulfilled", "resolved_on_site"]
# why this mediator: the first rule of the ranking that set them apart (assignment.py)
AssignmentReason = Literal["urgent_station_full_time", "serves_block", "lowest_load"]

CATEGORY_NOTE = "one of " + ", ".join(CATEGORIES) + " (else refused: unknown_category)"
PARTIES_MAX = 20
TERMS_MAX = 20
BLOCKS_MAX = 100
# a mediator's caseload: the slots are kept as a list of case ids in their document
MAX_ACTIVE_CASES = 100


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Party(_Part):
    name: Annotated[Name, PERSONAL]
    role: PartyRole
    phone: Annotated[PhoneNumber | None, PERSONAL] = None


class CaseParty(_Part):
    """A party as the case records it: the role reported, or as a visitor wrote it down."""

    name: Annotated[str, PERSONAL]
    role: str
    phone: Annotated[str | None, PERSONAL] = None


class Term(_Part):
    """One obligation of an agreement: who does what, by when."""

    party: Annotated[Name, PERSONAL]
    obligation: ShortText
    due_date: Day


# -- commands on mediation.intake -------------------------------------------------------


class RegisterMediator(Command, type="mediation.register_mediator", subject="mediator_id"):
    """Register a mediator, or update a registration (the cases they hold stay theirs)."""

    mediator_id: Id
    name: Annotated[Name, PERSONAL]
    kind: MediatorKind
    specialties: Annotated[list[Id], bounded(len(CATEGORIES)), Distinct] = Field(
        min_length=1, description=f"categories, each {CATEGORY_NOTE}"
    )
    blocks: Annotated[list[Id], bounded(BLOCKS_MAX), Distinct] = Field(default_factory=list)
    phone: Annotated[PhoneNumber, PERSONAL]
    max_active_cases: int = Field(ge=1, le=MAX_ACTIVE_CASES)


class ReportDispute(Command, type="mediation.report_dispute", subject="dispute_id"):
    """A dispute reported at the window, on the hotline or by a police call: a case opens."""

    # its case is `case-<dispute_id>`, itself an id of at most 64 characters
    dispute_id: Annotated[Id, Field(max_length=59)]
    source: DisputeSource
    category: Id = Field(description=CATEGORY_NOTE)
    parties: Annotated[list[Party], bounded(PARTIES_MAX)] = Field(min_length=1)
    description: Text
    block: Id | None = None
    urgency: Urgency = "normal"


class RecordSession(Command, type="mediation.record_session", subject="case_id"):
    """A session held by the case's mediator: an agreement (with terms), none, or adjourned."""

    case_id: Id
    mediator_id: Id
    held_at: Moment
    outcome: SessionOutcome
    terms: Annotated[list[Term], bounded(TERMS_MAX)] | None = None
    notes: Text | None = None


class CheckObligation(Command, type="mediation.check_obligation", subject="case_id"):
    """A follow-up (回访): was the agreement's term `term_index` (from 0) fulfilled?"""

    case_id: Id
    term_index: int = Field(ge=0, lt=TERMS_MAX)
    fulfilled: bool
    checked_at: Moment


class ErasePerson(EraseOrder, type="mediation.erase_person", subject="erasure_id"):
    """Erase a resident (PIPL): every record naming their phone or ID number is anonymised,
    and so is every copy of their name found there (`station erase`)."""


# -- what mediation reads from outreach.private (tolerant reader) -----------------------


# Tolerant of what it does not need (unknown roles, fields added later), but what it stores
# in the case is bounded like a reported dispute: a fact past them goes to the DLQ.
class VisitParty(_Part):
    name: Name
    role: ShortText | None = None


class DisputeDetected(Fact, type="outreach.dispute_detected", subject="visit_id", private=True):
    """A dispute found on a door-knocking visit: a case opens (and resolves at once when it
    was settled on the spot). Read whole, parties and description, from `outreach.private`."""

    visit_id: Id
    household_id: Id | None = None
    block: Id | None = None
    category: Id
    parties: Annotated[list[VisitParty], bounded(PARTIES_MAX)] = Field(default_factory=list)
    description: Text | Literal[""] = ""
    resolved_on_site: bool = False


# -- facts on mediation.events ----------------------------------------------------------


class MediatorRegistered(Fact, type="mediation.mediator_registered", subject="mediator_id"):
    """The registration as stored, with the cases the mediator holds now."""

    mediator_id: str
    name: Annotated[str, PERSONAL]
    kind: MediatorKind
    specialties: list[Category]
    blocks: list[str]
    phone: Annotated[str, PERSONAL]
    max_active_cases: int
    active_cases: int


class CaseOpened(Fact, type="mediation.case_opened", subject="case_id"):
    """A case opened from a reported dispute or one found on a visit (source `outreach`)."""

    case_id: str
    dispute_id: str
    category: Category
    source: DisputeSource
    block: str | None
    urgency: Urgency
    parties: list[CaseParty]
    description: Annotated[str, PERSONAL]
    opened_at: datetime
    household_id: str | None
    resolved_on_site: bool


class MediatorAssigned(Fact, type="mediation.mediator_assigned", subject="case_id"):
    """A mediator took the case (a slot of their maximum is reserved for it)."""

    case_id: str
    mediator_id: str
    mediator_name: Annotated[str, PERSONAL]
    mediator_phone: Annotated[str, PERSONAL]
    reason: AssignmentReason
    mediator_kind: MediatorKind
    category: Category
    urgency: Urgency
    block: str | None
    active_cases: int = Field(description="the mediator's cases, this one included")
    max_active_cases: int


class SessionRecorded(Fact, type="mediation.session_recorded", subject="case_id"):
    """A session was held (an addition): the counts after it."""

    case_id: str
    mediator_id: str
    held_at: datetime
    outcome: SessionOutcome
    sessions: int
    sessions_without_agreement: int
    notes: Annotated[str | None, PERSONAL]


class SessionOverdue(Fact, type="mediation.session_overdue", subject="case_id"):
    """No session within the deadline after the case opened (once per case)."""

    case_id: str
    mediator_id: str | None = Field(description="null while the case still waits for one")
    opened_at: datetime
    due_at: datetime


class AgreementReached(Fact, type="mediation.agreement_reached", subject="case_id"):
    """The parties agreed; `follow_up_due` is the last due date of the terms."""

    case_id: str
    mediator_id: str
    terms: list[Term]
    follow_up_due: date


class ObligationChecked(Fact, type="mediation.obligation_checked", subject="case_id"):
    """A follow-up checked one term (an addition)."""

    case_id: str
    term_index: int
    party: Annotated[str, PERSONAL]
    obligation: str
    fulfilled: bool
    checked_at: datetime


class ObligationOverdue(Fact, type="mediation.obligation_overdue", subject="case_id"):
    """A term is past its due date with no check yet: a reminder for the mediator (once
    per term; an addition)."""

    case_id: str
    mediator_id: str
    term_index: int
    party: Annotated[str, PERSONAL]
    obligation: str
    due_date: date


class CaseResolved(Fact, type="mediation.case_resolved", subject="case_id"):
    """Every term was fulfilled, or the dispute was settled on the spot; the slot is freed."""

    case_id: str
    how: ResolvedHow
    sessions: int
    days_open: float
    mediator_id: str | None
    category: Category


class CaseEscalated(Fact, type="mediation.case_escalated", subject="case_id"):
    """Referred on. `no_mediator_available` keeps the case open, waiting for a mediator;
    the other reasons close it and free its mediator's slot."""

    case_id: str
    reason: EscalationReason
    referred_to: Referral
    mediator_id: str | None
    sessions: int
    category: Category


class PersonErased(PersonErasedFact, type="mediation.person_erased", subject="erasure_id"):
    """A resident was erased from the mediation service's database: how many records changed."""


# -- timers -----------------------------------------------------------------------------


class DeadlinesDue(Timer, type="mediation.deadlines_due"):
    """A sweep: act on every case deadline passed by now (deadlines.py)."""

    at: datetime


# -- why a command is refused -----------------------------------------------------------

UNKNOWN_CASE = Reason("unknown_case", "no case has that id")
UNKNOWN_MEDIATOR = Reason("unknown_mediator", "the mediator is not registered")
UNKNOWN_CATEGORY = Reason("unknown_category", "the dispute category is not in the list")
WAITING_LIST_FULL = Reason(
    "waiting_list_full",
    "a new dispute nobody with room can take while as many cases as the list holds wait",
)
DISPUTE_ALREADY_REPORTED = Reason(
    "dispute_already_reported", "a case is already open for that dispute_id"
)
NOT_THE_ASSIGNED_MEDIATOR = Reason(
    "not_the_assigned_mediator", "the case is assigned to another mediator, or to none yet"
)
CASE_CLOSED = Reason("case_closed", "the case is already resolved or escalated")
AGREEMENT_ALREADY_REACHED = Reason(
    "agreement_already_reached", "a session on a case whose agreement is being followed up"
)
AGREEMENT_WITHOUT_TERMS = Reason("agreement_without_terms", "an agreement lists no terms")
TERMS_WITHOUT_AGREEMENT = Reason(
    "terms_without_agreement", "terms given with an outcome other than agreement"
)
NO_AGREEMENT_YET = Reason("no_agreement_yet", "an obligation checked before any agreement")
TERM_INDEX_OUT_OF_RANGE = Reason(
    "term_index_out_of_range", "term_index is not the index of one of the agreement's terms"
)
TERM_ALREADY_CHECKED = Reason("term_already_checked", "that term was already checked fulfilled")
