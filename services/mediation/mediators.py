"""Rules of mediators: registrations, the slots of their maximum, the waiting list (pure).

A slot is a case id in the mediator's `active_cases`; taking one is a decision on the
mediator's own state, so the store's compare-and-set makes it exclusive.
"""

from services.mediation import messages as m
from services.mediation.domain import category_or_reject
from services.mediation.state import CaseState, MediatorState, WaitingCase, WaitingList
from shared import Change


def register_mediator(
    state: MediatorState | None, cmd: m.RegisterMediator
) -> Change[MediatorState]:
    """A registration, or an update of one: the cases the mediator holds stay theirs (a
    lower maximum only stops new ones)."""
    specialties = sorted({category_or_reject(c) for c in cmd.specialties})
    held = state.active_cases if state is not None else []
    new = MediatorState(
        mediator_id=cmd.mediator_id,
        name=cmd.name,
        kind=cmd.kind,
        specialties=specialties,
        blocks=list(dict.fromkeys(cmd.blocks)),
        phone=cmd.phone,
        max_active_cases=cmd.max_active_cases,
        active_cases=held,
    )
    fact = m.MediatorRegistered(**new.model_dump(exclude={"active_cases"}), active_cases=len(held))
    return Change(new, [fact])


def reserve(state: MediatorState | None, case_id: str) -> Change[MediatorState] | None:
    """Take a slot for the case if there is room (nothing to write if it holds one)."""
    if state is None or case_id in state.active_cases or not state.has_room:
        return None
    return Change(state.model_copy(update={"active_cases": [*state.active_cases, case_id]}))


def release(state: MediatorState | None, case_id: str) -> Change[MediatorState] | None:
    """Free the case's slot (nothing to write if it holds none)."""
    if state is None or case_id not in state.active_cases:
        return None
    kept = [c for c in state.active_cases if c != case_id]
    return Change(state.model_copy(update={"active_cases": kept}))


def listed(state: WaitingList | None, case: CaseState) -> Change[WaitingList] | None:
    """The case joins the waiting list (once)."""
    current = state or WaitingList()
    if any(c.case_id == case.case_id for c in current.cases):
        return None
    entry = WaitingCase(
        case_id=case.case_id,
        category=case.category,
        urgency=case.urgency,
        opened_at=case.opened_at,
    )
    return Change(current.model_copy(update={"cases": [*current.cases, entry]}))


def unlisted(state: WaitingList | None, case_id: str) -> Change[WaitingList] | None:
    """The case leaves the waiting list (assigned, or closed meanwhile)."""
    if state is None or all(c.case_id != case_id for c in state.cases):
        return None
    return Change(
        state.model_copy(update={"cases": [c for c in state.cases if c.case_id != case_id]})
    )
