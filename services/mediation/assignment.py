"""Who mediates a case: a pure ranking of the registered mediators (no I/O).

Required: the case's category among the mediator's specialties, and room (fewer active
cases than their maximum). Among those, in order: for an urgent case a station full-time
mediator first; then one serving the dispute's block; then the fewest active cases; then
the smallest mediator_id (the contract). Room is only a hint here: the slot is taken
by a compare-and-set on the mediator's own document, so two cases never take the last one.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from services.mediation.messages import AssignmentReason
from services.mediation.state import CaseState, MediatorState


@dataclass(frozen=True)
class Choice:
    mediator: MediatorState
    reason: AssignmentReason


def eligible(case: CaseState, mediator: MediatorState) -> bool:
    """The category is among the mediator's specialties and they have room."""
    return case.category in mediator.specialties and mediator.has_room


def serves_block(case: CaseState, mediator: MediatorState) -> bool:
    return case.block is not None and case.block in mediator.blocks


def _rank(case: CaseState, mediator: MediatorState) -> tuple[bool, bool, int, str]:
    urgent_but_not_full_time = case.urgency == "high" and mediator.kind != "station_full_time"
    return (
        urgent_but_not_full_time,
        not serves_block(case, mediator),
        mediator.load,
        mediator.mediator_id,
    )


def reason_for(case: CaseState, mediator: MediatorState) -> AssignmentReason:
    """The first rule of the ranking that speaks for this mediator."""
    if case.urgency == "high" and mediator.kind == "station_full_time":
        return "urgent_station_full_time"
    if serves_block(case, mediator):
        return "serves_block"
    return "lowest_load"


def rank_mediators(case: CaseState, mediators: Iterable[MediatorState]) -> list[Choice]:
    """Every mediator who may take the case, best first."""
    ranked = sorted((m for m in mediators if eligible(case, m)), key=lambda m: _rank(case, m))
    return [Choice(m, reason_for(case, m)) for m in ranked]


def candidates_in_order(case: CaseState, mediators: Iterable[MediatorState]) -> list[Choice]:
    """Whom to try: first a mediator already holding a slot for this case (an assignment
    cut short by a crash, or raced by another flow: it is finished, never doubled), then
    the ranking."""
    found = list(mediators)
    holders = sorted(
        (m for m in found if case.case_id in m.active_cases), key=lambda m: m.mediator_id
    )
    if holders:
        return [Choice(m, reason_for(case, m)) for m in holders]
    return rank_mediators(case, found)
