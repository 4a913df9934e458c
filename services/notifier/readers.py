"""What the notifier reads of the other services' facts (tolerant readers).

Each model has the producer's `type` and only the fields the notifier uses, written from
the contract (`../shared/contract.md`); `tests/unit/test_contract.py` checks them against
each producer's published document. Those that need people's names and phones are read
whole from the producer's `<service>.private` topic (`private=True`); the others from
its public events topic. Recipient ids and contacts are optional here on
purpose: a fact that lacks them is recorded as a skipped notification, with the reason,
instead of being refused as invalid data.
"""

from pydantic import BaseModel, ConfigDict, Field

from shared import Fact


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Person(_Part):
    """A person inside a fact: any of its fields may be missing. `email` and `language`
    are read if a producer adds them."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None


class Officer(Person):
    officer_id: str | None = None


class Requester(Person):
    relation: str | None = None


class Transfer(_Part):
    transfer_id: str
    to_enterprise_id: str | None = None
    to_name: str | None = None
    quantity_kg: float


# -- enterprise.events ------------------------------------------------------------------


class EnterpriseRegistered(
    Fact, type="enterprise.enterprise_registered", subject="enterprise_id", private=True
):
    enterprise_id: str
    name: str | None = None
    liaison_officer: Officer | None = None
    contact: Person | None = None


class OverCapacityDetected(
    Fact, type="enterprise.over_capacity_detected", subject="enterprise_id", private=True
):
    alert_id: str
    enterprise_id: str
    enterprise_name: str
    cas: str
    chemical_name: str
    chemical_name_en: str | None = None
    stock_kg: float
    capacity_kg: float
    surplus_kg: float
    liaison_officer: Officer | None = None


class RedistributionProposed(Fact, type="enterprise.redistribution_proposed", subject="alert_id"):
    alert_id: str
    cas: str
    transfers: list[Transfer]


class RedistributionEscalated(Fact, type="enterprise.redistribution_escalated", subject="alert_id"):
    alert_id: str
    enterprise_id: str
    cas: str
    unallocated_kg: float
    reason: str


# -- mediation.events -------------------------------------------------------------------


class MediatorRegistered(
    Fact, type="mediation.mediator_registered", subject="mediator_id", private=True
):
    mediator_id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None


class MediatorAssigned(Fact, type="mediation.mediator_assigned", subject="case_id", private=True):
    case_id: str
    mediator_id: str | None = None
    mediator_name: str | None = None
    mediator_phone: str | None = None


class SessionOverdue(Fact, type="mediation.session_overdue", subject="case_id"):
    case_id: str
    mediator_id: str | None = None
    opened_at: str | None = None


class CaseEscalated(Fact, type="mediation.case_escalated", subject="case_id"):
    case_id: str
    reason: str
    referred_to: str


# -- outreach.events --------------------------------------------------------------------


class VolunteerRegistered(
    Fact, type="outreach.volunteer_registered", subject="volunteer_id", private=True
):
    volunteer_id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None


class VisitAssigned(Fact, type="outreach.visit_assigned", subject="visit_id", private=True):
    visit_id: str
    volunteer_id: str | None = None
    volunteer_name: str | None = None
    household_id: str
    block: str
    topics: list[str] = Field(default_factory=list)
    due_by: str | None = None


class CoverageGapDetected(Fact, type="outreach.coverage_gap_detected", subject="campaign_id"):
    campaign_id: str
    block: str
    # stored with the notification: a count past BSON's 8-byte integers would make every
    # write of it fail (found by the intake fuzzing)
    households_unassigned: int = Field(ge=0, le=1_000_000)


class HomeServiceScheduled(
    Fact, type="outreach.home_service_scheduled", subject="request_id", private=True
):
    request_id: str
    service: str
    appointment_date: str
    address: str | None = None
    requested_by: Requester | None = None
