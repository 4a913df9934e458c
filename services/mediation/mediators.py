"""Rules of mediators: registrations, the slots of their maximum, the waiting list (pure).

A slot is a case id in the mediator's `active_cases`; taking one is a decision on the
mediator's own state, so the store's compare-and-set makes it exclusive.
"""

from services.mediation import messages as m
from services.mediation.domain import category_or_reject
from services.mediation.state import CaseState, MediatorState, WaitingCase, WaitingList
from shared import Change, Rejected

# The waiting list is one document (read whole when a slot frees up), so it holds at most
# this many cases: a reported dispute that would join it then is refused
# (waiting_list_full), one found on a visit is escalated to the station without joining.
# At the cap it stays far below MongoDB's 16 MiB (tests/unit/test_document_bounds.py).
MAX_WAITING = 10_000


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


def is_full(waiting: WaitingList) -> bool:
    return len(waiting.cases) >= MAX_WAITING


def check_room_to_wait(waiting: WaitingList, *, reported_before: bool, takers: int) -> None:
    """Refuses a new dispute that would have to wait while the waiting list is full (one a
    mediator with room can take passes, as does a replay of one already reported)."""
    if is_full(waiting) and not reported_before and takers == 0:
        raise Rejected(
            m.WAITING_LIST_FULL,
            f"{len(waiting.cases)} cases wait for a mediator and nobody with room takes "
            "this category: register mediators first",
        )


def listed(state: WaitingList | None, case: CaseState) -> Change[WaitingList] | None:
    """The case joins the waiting list (once, and only while it has room)."""
    current = state or WaitingList()
    if any(c.case_id == case.case_id for c in current.cases):
        return None
    if is_full(current):
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
