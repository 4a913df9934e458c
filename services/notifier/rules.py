"""Who is told about what: each fact the contract lists, mapped to recipients and a
template (pure). Domain story 5: liaison officers and the hazardous-chemicals brigade
about alerts and escalations; recipient enterprises about proposed transfers; mediators
about new cases; the duty desk about overdue sessions, escalated cases and visits
without a volunteer; volunteers about their visits; families about home-service
appointments.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from pydantic import TypeAdapter, ValidationError

from services.notifier import readers as r
from services.notifier.messages import RecipientKind, Template
from services.notifier.state import Contact, ParamValue
from services.notifier.templates import clean_name
from shared import EmailAddress, PhoneNumber

# a contact's name as kept in the directory (an SMS caps it again, shorter)
CONTACT_NAME_CAP: Final = 32
# an invalid phone or address is kept this long, for the failure that names it
INVALID_KEPT: Final = 254
_PHONE: Final = TypeAdapter(PhoneNumber)
_EMAIL: Final = TypeAdapter(EmailAddress)


def _checked(adapter: TypeAdapter[str], value: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(reason) from None


def normalise_phone(value: str) -> str:
    """A Chinese mobile or landline number, normalised (the kit's `PhoneNumber`);
    ValueError for anything else."""
    return _checked(_PHONE, value)


def normalise_email(value: str) -> str:
    """One e-mail address, normalised (the kit's `EmailAddress`); ValueError for anything
    else: a second recipient after a comma, a display name, a line break."""
    return _checked(_EMAIL, value)


BRIGADE: Final = "hazchem_brigade"
DUTY_DESK: Final = "duty_desk"
Desks = Mapping[str, Contact]
# the service whose facts may say how to reach each kind of recipient: a number another
# service names for them is never used (desks come from the settings alone)
OWNERS: Final[Mapping[RecipientKind, str]] = {
    "officer": "enterprise",
    "enterprise": "enterprise",
    "volunteer": "outreach",
    "requester": "outreach",
    "mediator": "mediation",
}


def speaks_for(kind: RecipientKind, *, source: str, event_type: str) -> bool:
    """Whether a fact (its CloudEvents source and type) comes from the service that owns
    this kind of recipient's contact details."""
    owner = OWNERS.get(kind)
    return (
        owner is not None and source == f"/services/{owner}" and event_type.startswith(f"{owner}.")
    )


@dataclass(frozen=True)
class Intent:
    """One recipient to tell, with what: `recipient_id` None when the cause lacks it."""

    slot: str  # where in the cause the recipient was named (for a skipped one)
    kind: RecipientKind
    recipient_id: str | None
    template: Template
    params: dict[str, ParamValue] = field(default_factory=dict)
    # alerts and escalations are never held back by quiet hours
    urgent: bool = False
    # what the cause says about how to reach them; None: only the directory knows
    contact: Contact | None = None


class Reachable(Protocol):
    """Whatever a fact says about reaching a person."""

    @property
    def name(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...


def contact_of(person: Reachable | None) -> Contact | None:
    """A person inside a fact as a contact (None if the fact says nothing of them): the
    phone and e-mail address normalised when valid, else kept (capped) so that sending
    to them fails for good with the reason; a language other than `zh` or `en` ignored."""
    if person is None:
        return None
    return Contact(
        name=clean_name(person.name, CONTACT_NAME_CAP) if person.name else None,
        phone=_normalised(person.phone, normalise_phone),
        email=_normalised(person.email, normalise_email),
        language="zh" if person.language == "zh" else "en" if person.language == "en" else None,
    )


def _normalised(value: str | None, normalise: Callable[[str], str]) -> str | None:
    if not value:
        return None
    try:
        return normalise(value[: INVALID_KEPT + 1])
    except ValueError:
        return value[: INVALID_KEPT + 1]


def _desk(desks: Desks, desk: str, template: Template, **params: ParamValue) -> Intent:
    return Intent(desk, "desk", desk, template, dict(params), urgent=True, contact=desks[desk])


def over_capacity(alert: r.OverCapacityDetected, desks: Desks) -> list[Intent]:
    """An over-capacity alert: the enterprise's liaison officer and the brigade."""
    officer = alert.liaison_officer
    chemical: dict[str, ParamValue] = {
        "chemical_zh": alert.chemical_name,
        "chemical_en": alert.chemical_name_en or f"CAS {alert.cas}",
    }
    figures: dict[str, ParamValue] = {
        "enterprise_name": alert.enterprise_name,
        "stock_kg": alert.stock_kg,
        "capacity_kg": alert.capacity_kg,
        "surplus_kg": alert.surplus_kg,
    }
    return [
        Intent(
            "liaison_officer",
            "officer",
            officer.officer_id if officer else None,
            "over_capacity_officer",
            {**figures, **chemical},
            urgent=True,
            contact=contact_of(officer),
        ),
        _desk(
            desks,
            BRIGADE,
            "over_capacity_brigade",
            **figures,
            **chemical,
            officer_name=(officer.name if officer and officer.name else "-"),
        ),
    ]


def redistribution_proposed(proposal: r.RedistributionProposed) -> list[Intent]:
    """A proposal: each recipient enterprise's contact (from the directory)."""
    return [
        Intent(
            f"transfers[{n}].to_enterprise_id",
            "enterprise",
            transfer.to_enterprise_id,
            "transfer_proposed",
            {
                "chemical_zh": f"CAS {proposal.cas}",
                "chemical_en": f"CAS {proposal.cas}",
                "quantity_kg": transfer.quantity_kg,
                "transfer_ref": transfer.transfer_id,
            },
        )
        for n, transfer in enumerate(proposal.transfers)
    ]


def redistribution_escalated(escalated: r.RedistributionEscalated, desks: Desks) -> list[Intent]:
    """What could not be placed: the brigade."""
    return [
        _desk(
            desks,
            BRIGADE,
            "redistribution_escalated",
            enterprise_ref=escalated.enterprise_id,
            chemical_zh=f"CAS {escalated.cas}",
            chemical_en=f"CAS {escalated.cas}",
            unallocated_kg=escalated.unallocated_kg,
            reason=escalated.reason,
        )
    ]


def mediator_assigned(assigned: r.MediatorAssigned) -> list[Intent]:
    """A new case: its mediator."""
    said = contact_of(r.Person(name=assigned.mediator_name, phone=assigned.mediator_phone))
    return [
        Intent(
            "mediator_id",
            "mediator",
            assigned.mediator_id,
            "mediator_assigned",
            {"mediator_name": assigned.mediator_name or "", "case_ref": assigned.case_id},
            contact=said if assigned.mediator_phone else None,
        )
    ]


def session_overdue(overdue: r.SessionOverdue, desks: Desks) -> list[Intent]:
    """No session within the deadline: the duty desk."""
    return [
        _desk(
            desks,
            DUTY_DESK,
            "session_overdue",
            case_ref=overdue.case_id,
            opened_date=overdue.opened_at or "-",
        )
    ]


def case_escalated(escalated: r.CaseEscalated, desks: Desks) -> list[Intent]:
    """An escalated case: the duty desk."""
    return [
        _desk(
            desks,
            DUTY_DESK,
            "case_escalated",
            case_ref=escalated.case_id,
            reason=escalated.reason,
            referred_to=escalated.referred_to,
        )
    ]


def visit_assigned(visit: r.VisitAssigned) -> list[Intent]:
    """A visit: its volunteer (their phone from the directory)."""
    return [
        Intent(
            "volunteer_id",
            "volunteer",
            visit.volunteer_id,
            "visit_assigned",
            {
                "volunteer_name": visit.volunteer_name or "",
                "due_date": visit.due_by or "-",
                "block": visit.block,
                "household_ref": visit.household_id,
                "topics": list(visit.topics),
            },
        )
    ]


def coverage_gap(gap: r.CoverageGapDetected, desks: Desks) -> list[Intent]:
    """Households no volunteer can take: the duty desk."""
    return [
        _desk(
            desks,
            DUTY_DESK,
            "coverage_gap",
            campaign_ref=gap.campaign_id,
            block=gap.block,
            households=gap.households_unassigned,
        )
    ]


def home_service_scheduled(scheduled: r.HomeServiceScheduled) -> list[Intent]:
    """An appointment: the family member who asked (the request is their id). The
    address they gave is not repeated to them: it is free text from a command."""
    requester = scheduled.requested_by
    return [
        Intent(
            "requested_by",
            "requester",
            scheduled.request_id,
            "home_service_scheduled",
            {
                "requester_name": requester.name if requester and requester.name else "",
                "service": scheduled.service,
                "appointment_date": scheduled.appointment_date,
                "request_ref": scheduled.request_id,
            },
            contact=contact_of(requester) or Contact(),
        )
    ]
