"""The assignment flow: the service's reactions to its own facts on mediation.events.

A case opened, a mediator registered, a case closed (its slot freed): each may let a
waiting case get a mediator. Assigning one case is idempotent steps under the cause,
each with a key of its own (`ctx.step`), so a redelivery finishes what a crash left:
1. the best mediator's slot is reserved with a compare-and-set on the mediator's own
   document (never beyond their maximum, whatever runs concurrently); one already
   holding a slot for the case is taken first, so a replay never reserves twice;
2. the case records its mediator (`mediator_assigned`); if another flow assigned it
   meanwhile, the slot reserved in vain is freed and offered to the cases waiting;
3. nobody with room: the case joins the waiting list first (so any slot freed from then
   on is offered to it), the roster is read again and tried once more, and only then is
   it escalated (`no_mediator_available`, once); it waits for a mediator to register
   or free up.
"""

from dataclasses import dataclass

from services.mediation import domain, mediators
from services.mediation.assignment import Choice, candidates_in_order
from services.mediation.messages import (
    CaseEscalated,
    CaseOpened,
    CaseResolved,
    MediatorRegistered,
)
from services.mediation.state import CaseState
from services.mediation.store import WAITING_ID, MediationStore
from shared import Context


async def release_slot(store: MediationStore, mediator_id: str, case_id: str, ctx: Context) -> None:
    """Free the slot a mediator holds for a case (a step of its own; nothing if none)."""
    await store.change_mediator(
        mediator_id,
        ctx.step(f"release:{case_id}:{mediator_id}"),
        lambda state: mediators.release(state, case_id),
    )


@dataclass(frozen=True)
class Assignment:
    """Assigns waiting cases to mediators, and offers freed slots to the cases waiting."""

    store: MediationStore

    async def case_opened(self, opened: CaseOpened, ctx: Context) -> None:
        """A new case: give it a mediator (one settled on the spot needs none). The fact
        says all the ranking needs, so the case is not read first."""
        if opened.resolved_on_site:
            return
        case = CaseState.model_validate(opened.model_dump(exclude={"resolved_on_site"}))
        await self.assign(case, ctx)

    async def mediator_registered(self, registered: MediatorRegistered, ctx: Context) -> None:
        """A mediator registered (or got more room): offer them the cases waiting."""
        await self.offer_waiting(registered.mediator_id, ctx)

    async def case_closed(self, closed: CaseResolved | CaseEscalated, ctx: Context) -> None:
        """A case resolved or escalated: its freed slot is offered to the cases waiting (an
        escalation for want of a mediator closes nothing). The handler that closed it freed
        the slot already; freeing it here again is a no-op that covers any other path."""
        if isinstance(closed, CaseEscalated) and closed.reason == "no_mediator_available":
            return
        if closed.mediator_id is None:
            return
        await release_slot(self.store, closed.mediator_id, closed.case_id, ctx)
        await self.offer_waiting(closed.mediator_id, ctx)

    async def assign(self, case: CaseState, ctx: Context) -> bool:
        """Give a waiting case the best mediator with room, or list and escalate it once.
        False when it is left waiting."""
        if case.status != "waiting":
            await self._release_strays(case, ctx)
            return True
        if await self._try_all(case, ctx, fresh=False):
            return True
        await self.store.waiting.apply(
            WAITING_ID, ctx.step(f"list:{case.case_id}"), lambda s: mediators.listed(s, case)
        )
        if await self._try_all(case, ctx, fresh=True):
            await self._unlist(case.case_id, ctx)
            return True
        await self.store.cases.apply(
            case.case_id, ctx.step(f"waiting:{case.case_id}"), domain.no_mediator_available
        )
        return False

    async def _try_all(self, case: CaseState, ctx: Context, *, fresh: bool) -> bool:
        roster = await self.store.candidates(case, fresh=fresh)
        for choice in candidates_in_order(case, roster):
            if await self._try(case, choice, ctx):
                return True
        return False

    async def _try(self, case: CaseState, choice: Choice, ctx: Context) -> bool:
        """Reserve the mediator's slot, then record the assignment; False when they were
        full by the time of the compare-and-set."""
        case_id, mediator_id = case.case_id, choice.mediator.mediator_id
        holder = await self.store.change_mediator(
            mediator_id,
            ctx.step(f"reserve:{case_id}:{mediator_id}"),
            lambda state: mediators.reserve(state, case_id),
        )
        if holder is None or case_id not in holder.active_cases:
            return False
        assigned = await self.store.cases.apply(
            case_id,
            ctx.step(f"assign:{case_id}"),
            lambda state: domain.assign(state, holder, choice.reason),
        )
        if assigned.state is None or assigned.state.mediator_id != mediator_id:
            await self._free_in_vain(mediator_id, case_id, ctx)  # another flow was first
        return True

    async def offer_waiting(self, mediator_id: str, ctx: Context) -> None:
        """Waiting cases this mediator could take, urgent then oldest first, while they
        have room (each still goes to the best mediator with room at that moment)."""
        mediator = await self.store.mediator(mediator_id)
        if mediator is None or not mediator.has_room:
            return
        for entry in (await self.store.waiting_list()).offered_to(mediator):
            case = await self.store.cases.load(entry.case_id)
            if case is None or await self.assign(case, ctx):
                await self._unlist(entry.case_id, ctx)
            mediator = await self.store.mediator(mediator_id)
            if mediator is None or not mediator.has_room:
                return

    async def _unlist(self, case_id: str, ctx: Context) -> None:
        await self.store.waiting.apply(
            WAITING_ID, ctx.step(f"unlist:{case_id}"), lambda s: mediators.unlisted(s, case_id)
        )

    async def _release_strays(self, case: CaseState, ctx: Context) -> None:
        """Slots held for a case by anyone but its mediator (a flow raced, or cut short
        between reserving and freeing) are freed."""
        keep = case.mediator_id if case.is_open else None
        for holder in await self.store.holders(case.case_id):
            if holder.mediator_id != keep:
                await self._free_in_vain(holder.mediator_id, case.case_id, ctx)

    async def _free_in_vain(self, mediator_id: str, case_id: str, ctx: Context) -> None:
        """A slot reserved for a case that went to someone else is freed, and offered at
        once: a case that found this mediator full meanwhile must not wait for nothing."""
        await release_slot(self.store, mediator_id, case_id, ctx)
        await self.offer_waiting(mediator_id, ctx)
