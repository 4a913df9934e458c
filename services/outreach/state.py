"""What the outreach service stores, as typed state.

Sized for a campaign over 36,000 households: a household's targeting facts are indexed per
block (`RegistryState`, 18 documents read in one query), a block's visits live in one
document per block (`BlockVisitsState`: a campaign writes 18 documents, not 36,000), and
volunteers' open visits are counted in one roster (`RosterState`), reserved with one
compare-and-set. Lists, not maps, hold what is keyed by a sender's id: a MongoDB-compatible
server refuses keys with dots, and ids are chosen by senders.
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, PlainSerializer

from services.outreach.vocabulary import (
    Channel,
    HomeService,
    HouseholdProfile,
    Organisation,
    Requester,
    ServicePerson,
    Severity,
    Target,
    Trigger,
)
from shared import State, packed_list

ROSTER_ID = "roster"


class Counted(NamedTuple):
    """How many visits wait in a block, counted on which revision of its document."""

    waiting: int
    revision: int


AGENDA_ID = "agenda"
M = TypeVar("M", bound=BaseModel)


def _unpacked(model: type[M]) -> Callable[[Any], Any]:
    return lambda value: model.model_validate_json(value) if isinstance(value, str) else value


def _packed(value: BaseModel) -> str:
    return value.model_dump_json(exclude_none=True)


# The long lists (a block's 2,000 visits, its households, 2,000 volunteers) are stored as
# one compressed string each (`packed_list`): FerretDB's cost grows with a document's
# fields and bytes. The short list of pending reservations keeps one string per item.
def _pack(model: type[M]) -> tuple[BeforeValidator, PlainSerializer]:
    return BeforeValidator(_unpacked(model)), PlainSerializer(
        _packed, return_type=str, when_used="json"
    )


# -- the registry -----------------------------------------------------------------------


class HouseholdState(HouseholdProfile, State):
    """A household as registered; `previous_block` is where its last registration moved it
    from, so a replayed move still leaves the old block's index."""

    previous_block: str | None = None


class RegistryEntry(State):
    """What targeting needs of one household."""

    household_id: str
    business_type: str | None = None
    oldest_age: int
    lives_alone_elderly: bool
    prior_fraud_victim: bool


PackedEntries = Annotated[list[RegistryEntry], *packed_list(RegistryEntry)]


class RegistryState(State):
    """The households of one block, as targeting sees them."""

    block: str
    households: PackedEntries = Field(default_factory=list)
    # how many, kept with every change so /stats reads only this
    size: int = 0


# -- volunteers -------------------------------------------------------------------------


class RosterEntry(State):
    volunteer_id: str
    name: str
    organisation: Organisation
    blocks: list[str]
    phone: str
    max_open_visits: int
    open_visits: int = 0


class Quota(State):
    """Visits of one block reserved for one volunteer."""

    block: str
    volunteer_id: str
    count: int


class Reservation(State):
    """Slots reserved under one idempotency key until the blocks took them (a replay finds
    the same quotas)."""

    key: str
    at: AwareDatetime
    quotas: list[Quota]


PackedVolunteers = Annotated[list[RosterEntry], *packed_list(RosterEntry)]
PackedReservation = Annotated[Reservation, *_pack(Reservation)]


class RosterState(State):
    """Every volunteer and the visits each holds now: the one document reservations change."""

    volunteers: PackedVolunteers = Field(default_factory=list)
    # visits waiting for a volunteer, per block, as last seen by the roster, and the
    # revision of the block they were counted on (an older count never replaces a newer)
    backlog: dict[str, int] = Field(default_factory=dict)
    backlog_seen: dict[str, int] = Field(default_factory=dict)
    pending: list[PackedReservation] = Field(default_factory=list)


# -- campaigns and visits ---------------------------------------------------------------


class CampaignState(State):
    campaign_id: str
    warning_id: str
    scheme: str
    title: str
    severity: Severity
    trigger: Trigger
    blocks: list[str]
    target: Target
    issued_by: str
    households_targeted: int
    visits_planned: int
    recently_visited: int
    launched_at: AwareDatetime


class CampaignRef(State):
    """What the visits of one campaign in a block share."""

    campaign_id: str
    scheme: str
    severity: Severity
    topics: list[str]
    launched_at: AwareDatetime


VisitStatus = Literal["waiting", "assigned", "retry", "completed", "not_home", "refused", "overdue"]
OPEN_STATUSES: frozenset[VisitStatus] = frozenset({"waiting", "assigned", "retry"})
# closed visits that count as "visited" for the 30-day rule
VISITED_STATUSES: frozenset[VisitStatus] = frozenset({"completed", "refused"})


class VisitRecord(State):
    visit_id: str
    campaign_id: str
    household_id: str
    priority: int
    status: VisitStatus = "waiting"
    volunteer_id: str | None = None
    due_by: AwareDatetime | None = None
    attempts: int = 0
    # a second try waits until then (not home); it avoids the volunteer who let it lapse
    not_before: AwareDatetime | None = None
    avoid: str | None = None
    reported_by: str | None = None
    closed_at: AwareDatetime | None = None


class SlotNote(State):
    """Slots of a volunteer to give back to the roster under a key (a report, an overdue
    visit, or a reservation the block could not use)."""

    key: str
    at: AwareDatetime
    volunteer_id: str
    count: int


class Tally(State):
    """What a block's visits found, counted for good (closed visits are dropped later)."""

    completed: int = 0
    not_home: int = 0
    refused: int = 0
    overdue: int = 0
    disputes: int = 0
    fraud_dissuaded: int = 0
    fraud_dissuaded_yuan: int = 0


PackedVisits = Annotated[list[VisitRecord], *packed_list(VisitRecord)]


class BlockVisitsState(State):
    """Every open visit of one block, and those closed in the last 30 days."""

    block: str
    campaigns: list[CampaignRef] = Field(default_factory=list)
    visits: PackedVisits = Field(default_factory=list)
    notes: list[SlotNote] = Field(default_factory=list)
    tally: Tally = Field(default_factory=Tally)
    # visits by status now, kept with every change so /stats reads only this
    summary: dict[str, int] = Field(default_factory=dict)
    # one more on every change: flows racing to tell the roster what waits here are ordered
    revision: int = 0


# -- fraud attempts ---------------------------------------------------------------------


class AttemptReportState(State):
    report_id: str
    scheme: str
    block: str
    household_id: str | None
    channel: Channel
    amount_at_risk_yuan: int
    dissuaded: bool
    reported_at: AwareDatetime


class Sighting(State):
    report_id: str
    at: AwareDatetime


class ActiveCluster(State):
    """Reports of one scheme in one block that launched a campaign; later reports within
    the window join it instead of launching another."""

    cluster_id: str
    campaign_id: str
    started_at: AwareDatetime
    last_at: AwareDatetime
    reports: int


class ClusterWindowState(State):
    """The attempt reports of one scheme in one block within the cluster window."""

    block: str
    scheme: str
    recent: list[Sighting] = Field(default_factory=list)
    cluster: ActiveCluster | None = None
    clusters_launched: int = 0
    reports: int = 0
    dissuaded: int = 0
    dissuaded_yuan: int = 0


# -- home services ----------------------------------------------------------------------


class HomeServiceState(State):
    request_id: str
    service: HomeService
    person: ServicePerson
    requested_by: Requester
    address: str
    block: str
    preferred_dates: list[date]
    status: Literal["scheduled", "completed"] = "scheduled"
    appointment_date: date
    officer_id: str
    officer_name: str
    on_preferred_date: bool
    completed_at: datetime | None = None
    notes: str | None = None

    def finished_at(self) -> datetime | None:
        """When the service was done: the person's and requester's fields expire from then."""
        return self.completed_at if self.status == "completed" else None


class Booking(State):
    day: date
    officer_id: str
    request_id: str


class AgendaState(State):
    """Home-service bookings from today on: a day's room is checked and taken in one write."""

    bookings: list[Booking] = Field(default_factory=list)
