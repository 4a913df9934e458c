"""Notifier handlers for the facts the contract lists: each maps its fact to intents
(rules.py), tells them (delivery.py) and keeps the directory up to date (directory.py)."""

from collections.abc import Mapping
from dataclasses import dataclass

from services.notifier import readers as r
from services.notifier import rules
from services.notifier.delivery import Delivery
from services.notifier.directory import Directory
from services.notifier.rules import contact_of
from services.notifier.state import Contact
from shared import Context


@dataclass(frozen=True)
class NotifierHandlers:
    """One handler per fact that someone must be told about."""

    delivery: Delivery
    directory: Directory
    desks: Mapping[str, Contact]

    async def over_capacity_detected(self, alert: r.OverCapacityDetected, ctx: Context) -> None:
        """The liaison officer and the brigade, about an over-capacity alert."""
        await self.delivery.notify(ctx, rules.over_capacity(alert, self.desks))
        officer = alert.liaison_officer
        await self.directory.learn(
            ctx, "officer", officer.officer_id if officer else None, contact_of(officer)
        )

    async def redistribution_proposed(
        self, proposal: r.RedistributionProposed, ctx: Context
    ) -> None:
        """Each recipient enterprise, about the transfer proposed to it."""
        await self.delivery.notify(ctx, rules.redistribution_proposed(proposal))

    async def redistribution_escalated(
        self, escalated: r.RedistributionEscalated, ctx: Context
    ) -> None:
        """The brigade, about what could not be placed."""
        await self.delivery.notify(ctx, rules.redistribution_escalated(escalated, self.desks))

    async def mediator_assigned(self, assigned: r.MediatorAssigned, ctx: Context) -> None:
        """The mediator, about a new case."""
        await self.delivery.notify(ctx, rules.mediator_assigned(assigned))
        if assigned.mediator_phone:
            said = contact_of(r.Person(name=assigned.mediator_name, phone=assigned.mediator_phone))
            await self.directory.learn(ctx, "mediator", assigned.mediator_id, said)

    async def session_overdue(self, overdue: r.SessionOverdue, ctx: Context) -> None:
        """The duty desk, about a case with no session in time."""
        await self.delivery.notify(ctx, rules.session_overdue(overdue, self.desks))

    async def case_escalated(self, escalated: r.CaseEscalated, ctx: Context) -> None:
        """The duty desk, about an escalated case."""
        await self.delivery.notify(ctx, rules.case_escalated(escalated, self.desks))

    async def visit_assigned(self, visit: r.VisitAssigned, ctx: Context) -> None:
        """The volunteer, about a visit."""
        await self.delivery.notify(ctx, rules.visit_assigned(visit))

    async def coverage_gap_detected(self, gap: r.CoverageGapDetected, ctx: Context) -> None:
        """The duty desk, about households no volunteer can take."""
        await self.delivery.notify(ctx, rules.coverage_gap(gap, self.desks))

    async def home_service_scheduled(self, scheduled: r.HomeServiceScheduled, ctx: Context) -> None:
        """The family member who asked, about the appointment."""
        await self.delivery.notify(ctx, rules.home_service_scheduled(scheduled))
        await self.directory.learn(
            ctx, "requester", scheduled.request_id, contact_of(scheduled.requested_by)
        )
