"""Who is told about what: each fact the contract lists, mapped to recipients and a
template (pure). Domain story 5: liaison officers and the hazardous-chemicals brigade
about alerts and escalations; recipient enterprises about proposed transfers; mediators
about new cases; the duty desk about overdue sessions, escalated cases and visits
without a volunteer; volunteers about their visits; families about home-service
appointments.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from services.notifier import readers as r
from services.notifier.messages import RecipientKind, Template
from services.notifier.state import Contact, ParamValue

BRIGADE: Final = "hazchem_brigade"
DUTY_DESK: Final = "duty_desk"
Desks = Mapping[str, Contact]


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
    """A person inside a fact as a contact (None if the fact says nothing of them); a
    language other than `zh` or `en` is ignored."""
    if person is None:
        return None
    return Contact(
        name=person.name,
        phone=person.phone,
        email=person.email,
        language="zh" if person.language == "zh" else "en" if person.language == "en" else None,
    )


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
    said = Contact(name=assigned.mediator_name, phone=assigned.mediator_phone)
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
    """An appointment: the family member who asked (the request is their id)."""
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
                "address": scheduled.address or "-",
            },
            contact=contact_of(requester) or Contact(),
        )
    ]
