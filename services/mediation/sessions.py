"""Rules of a case under way: sessions, agreements, follow-ups and its deadlines (pure).

Decisions from a case's state to a `Change`; a broken rule raises `Rejected` and
changes nothing. Times come in as arguments.
"""

from datetime import datetime

from services.mediation import messages as m
from services.mediation.domain import escalate, new_terms, resolve
from services.mediation.state import CaseState
from shared import Change, Fact, Rejected


def _open_case(state: CaseState | None, case_id: str) -> CaseState:
    if state is None:
        raise Rejected(m.UNKNOWN_CASE, f"{case_id} is not a case")
    if not state.is_open:
        raise Rejected(m.CASE_CLOSED, f"{case_id} is {state.status}")
    return state


def record_session(
    state: CaseState | None,
    cmd: m.RecordSession,
    *,
    mediator_known: bool,
    max_without_agreement: int,
) -> Change[CaseState]:
    """A session by the case's mediator. An agreement (with terms) moves the case to
    follow-up; `max_without_agreement` sessions without one escalate it to court;
    an adjourned session only counts."""
    if state is None:
        raise Rejected(m.UNKNOWN_CASE, f"{cmd.case_id} is not a case")
    if not mediator_known:
        raise Rejected(m.UNKNOWN_MEDIATOR, f"{cmd.mediator_id} is not registered")
    current = _open_case(state, cmd.case_id)
    if current.mediator_id != cmd.mediator_id:
        assigned = current.mediator_id or "nobody yet"
        raise Rejected(m.NOT_THE_ASSIGNED_MEDIATOR, f"{cmd.case_id} is assigned to {assigned}")
    if current.status == "following_up":
        raise Rejected(m.AGREEMENT_ALREADY_REACHED, f"{cmd.case_id} is being followed up")
    if cmd.outcome == "agreement" and not cmd.terms:
        raise Rejected(m.AGREEMENT_WITHOUT_TERMS, "an agreement needs at least one term")
    if cmd.outcome != "agreement" and cmd.terms:
        raise Rejected(m.TERMS_WITHOUT_AGREEMENT, f"terms given with outcome {cmd.outcome}")
    sessions = current.sessions + 1
    failed = current.sessions_without_agreement + (cmd.outcome == "no_agreement")
    after = current.model_copy(update={"sessions": sessions, "sessions_without_agreement": failed})
    facts: list[Fact] = [
        m.SessionRecorded(
            case_id=cmd.case_id,
            mediator_id=cmd.mediator_id,
            held_at=cmd.held_at,
            outcome=cmd.outcome,
            sessions=sessions,
            sessions_without_agreement=failed,
            notes=cmd.notes,
        )
    ]
    if cmd.outcome == "agreement" and cmd.terms:
        follow_up_due = max(t.due_date for t in cmd.terms)
        after = after.model_copy(
            update={
                "status": "following_up",
                "terms": new_terms(cmd.terms),
                "follow_up_due": follow_up_due,
            }
        )
        facts.append(
            m.AgreementReached(
                case_id=cmd.case_id,
                mediator_id=cmd.mediator_id,
                terms=cmd.terms,
                follow_up_due=follow_up_due,
            )
        )
    elif failed >= max_without_agreement:
        escalated = escalate(after, "no_agreement", cmd.held_at)
        return Change(escalated.state, [*facts, *escalated.facts])
    return Change(after, facts)


def check_obligation(state: CaseState | None, cmd: m.CheckObligation) -> Change[CaseState]:
    """A follow-up on one term: every term fulfilled resolves the case; one not fulfilled
    escalates it (`obligation_breached`, referred to court)."""
    current = _open_case(state, cmd.case_id)
    if current.status != "following_up":
        raise Rejected(m.NO_AGREEMENT_YET, f"{cmd.case_id} has no agreement to follow up")
    if not 0 <= cmd.term_index < len(current.terms):
        raise Rejected(
            m.TERM_INDEX_OUT_OF_RANGE,
            f"term_index {cmd.term_index}: the agreement has terms 0..{len(current.terms) - 1}",
        )
    term = current.terms[cmd.term_index]
    if term.fulfilled:
        raise Rejected(m.TERM_ALREADY_CHECKED, f"term {cmd.term_index} was checked fulfilled")
    terms = list(current.terms)
    terms[cmd.term_index] = term.model_copy(
        update={"fulfilled": cmd.fulfilled, "checked_at": cmd.checked_at}
    )
    after = current.model_copy(update={"terms": terms})
    checked = m.ObligationChecked(
        case_id=cmd.case_id,
        term_index=cmd.term_index,
        party=term.party,
        obligation=term.obligation,
        fulfilled=cmd.fulfilled,
        checked_at=cmd.checked_at,
    )
    if not cmd.fulfilled:
        closed = escalate(after, "obligation_breached", cmd.checked_at)
    elif all(t.fulfilled for t in terms):
        closed = resolve(after, cmd.checked_at)
    else:
        return Change(after, [checked])
    return Change(closed.state, [checked, *closed.facts])


# -- deadlines -------------------------------------------------------------------------


def deadlines_passed(state: CaseState | None, *, now: datetime) -> Change[CaseState] | None:
    """Every deadline of the case passed by `now`, acted on once each: no session yet
    (session_overdue), a term past due and not checked (a reminder for the mediator), the
    one-month target (escalated `overdue`, which closes the case)."""
    if state is None or not state.is_open:
        return None
    current = state
    facts: list[Fact] = []
    due = state.session_due_at
    if due is not None and due <= now and state.sessions == 0 and not state.session_overdue:
        current = current.model_copy(update={"session_overdue": True})
        facts.append(
            m.SessionOverdue(
                case_id=state.case_id,
                mediator_id=state.mediator_id,
                opened_at=state.opened_at,
                due_at=due,
            )
        )
    terms = list(current.terms)
    for index, term in enumerate(terms):
        # terms come with an agreement, which only the case's mediator records
        if state.mediator_id is None or term.fulfilled is not None or term.reminded:
            continue
        if term.overdue_at <= now:
            terms[index] = term.model_copy(update={"reminded": True})
            facts.append(
                m.ObligationOverdue(
                    case_id=state.case_id,
                    mediator_id=state.mediator_id,
                    term_index=index,
                    party=term.party,
                    obligation=term.obligation,
                    due_date=term.due_date,
                )
            )
    current = current.model_copy(update={"terms": terms})
    if state.target_due_at is not None and state.target_due_at <= now:
        escalated = escalate(current, "overdue", now)
        return Change(escalated.state, [*facts, *escalated.facts])
    return Change(current, facts) if facts else None
