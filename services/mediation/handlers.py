"""Mediation handlers for the commands on mediation.intake and disputes found on visits.

Each changes one aggregate (a mediator or a case) atomically with its inbox and outbox.
A case that closes frees its mediator's slot in a step of its own, before its fact is
published; a case whose deadlines change has the deadline sweep planned (deadlines.py).
What follows over several aggregates (assignment) is the assignment flow (assigning.py).
"""

from dataclasses import dataclass

from services.mediation import domain, mediators, sessions
from services.mediation.assigning import release_slot
from services.mediation.deadlines import Deadlines
from services.mediation.messages import (
    CheckObligation,
    DisputeDetected,
    RecordSession,
    RegisterMediator,
    ReportDispute,
)
from services.mediation.state import CaseState
from services.mediation.store import MediationStore
from shared import Context


@dataclass(frozen=True)
class MediationHandlers:
    """The commands on mediation.intake, and outreach's disputes."""

    store: MediationStore
    slas: domain.Slas
    deadlines: Deadlines
    max_sessions_without_agreement: int

    async def register_mediator(self, cmd: RegisterMediator, ctx: Context) -> None:
        """Register a mediator, or update their registration."""
        await self.store.change_mediator(
            cmd.mediator_id, ctx, lambda s: mediators.register_mediator(s, cmd)
        )

    async def report_dispute(self, cmd: ReportDispute, ctx: Context) -> None:
        """A reported dispute opens a case (assigned on case_opened)."""
        new = domain.reported_case(cmd, now=ctx.now(), slas=self.slas)
        waiting = await self.store.waiting_list()
        if mediators.is_full(waiting):
            mediators.check_room_to_wait(
                waiting,
                reported_before=await self.store.cases.load(new.case_id) is not None,
                takers=sum(m.has_room for m in await self.store.candidates(new, fresh=True)),
            )
        await self._open(new, ctx, resolved_on_site=False)

    async def dispute_detected(self, found: DisputeDetected, ctx: Context) -> None:
        """A dispute found on a visit opens a case; settled on the spot, it resolves at once."""
        new = domain.detected_case(found, now=ctx.now(), slas=self.slas)
        await self._open(new, ctx, resolved_on_site=found.resolved_on_site)

    async def _open(self, new: CaseState, ctx: Context, *, resolved_on_site: bool) -> None:
        opened = await self.store.cases.apply(
            new.case_id,
            ctx,
            lambda s: domain.open_case(s, new, resolved_on_site=resolved_on_site),
        )
        await self.deadlines.plan(ctx, opened.state)

    async def record_session(self, cmd: RecordSession, ctx: Context) -> None:
        """A session: an agreement brings its terms' due dates; a closed case frees its slot."""
        mediator = await self.store.mediators.load(cmd.mediator_id)
        recorded = await self.store.cases.apply(
            cmd.case_id,
            ctx,
            lambda s: sessions.record_session(
                s,
                cmd,
                mediator_known=mediator is not None,
                max_without_agreement=self.max_sessions_without_agreement,
            ),
        )
        await self._after(recorded.state, ctx)

    async def check_obligation(self, cmd: CheckObligation, ctx: Context) -> None:
        """A follow-up on one term: resolved or escalated, the case frees its slot."""
        checked = await self.store.cases.apply(
            cmd.case_id, ctx, lambda s: sessions.check_obligation(s, cmd)
        )
        await self._after(checked.state, ctx)

    async def _after(self, case: CaseState | None, ctx: Context) -> None:
        """A closed case frees its mediator's slot before its fact is published (whoever
        reads the fact finds the slot free); an open one may have new deadlines."""
        if case is None:
            return
        if case.is_open:
            await self.deadlines.plan(ctx, case)
        elif case.mediator_id is not None:
            await release_slot(self.store, case.mediator_id, case.case_id, ctx)
