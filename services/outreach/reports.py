"""Rules of what happens to an assigned visit (pure): its report, or its due date passing.

A report frees the volunteer's slot; a household not at home is tried once more, no
sooner than a day later; findings become facts (a dispute for mediation, fraud
dissuaded). A visit not reported by its due date is overdue: the slot is freed and, on
its first assignment, the visit waits for another volunteer.
"""

from datetime import datetime
from typing import NoReturn

from services.outreach import messages as m
from services.outreach.commands import ReportVisit
from services.outreach.domain import scheme_or_reject
from services.outreach.roster import entry
from services.outreach.state import (
    OPEN_STATUSES,
    BlockVisitsState,
    RosterState,
    SlotNote,
    Tally,
    VisitRecord,
)
from services.outreach.visits import MAX_ATTEMPTS, NeedRoster, VisitPolicy, finish, visit_in
from shared import Change, Fact, Rejected


def _refuse_reporter(visit: VisitRecord, cmd: ReportVisit, roster: RosterState | None) -> NoReturn:
    """Why this volunteer may not report this visit now (raises)."""
    if visit.reported_by == cmd.volunteer_id and visit.status != "assigned":
        raise Rejected(m.VISIT_ALREADY_REPORTED, f"{cmd.visit_id} was reported already")
    if roster is None:
        raise NeedRoster
    if entry(roster, cmd.volunteer_id) is None:
        raise Rejected(m.UNKNOWN_VOLUNTEER, f"{cmd.volunteer_id} is not registered")
    if visit.status == "assigned" or (visit.status not in OPEN_STATUSES and visit.reported_by):
        raise Rejected(
            m.ASSIGNED_TO_ANOTHER,
            f"{cmd.visit_id} is {visit.status} for {visit.volunteer_id or visit.reported_by}",
        )
    raise Rejected(m.VISIT_NOT_ASSIGNED, f"{cmd.visit_id} is {visit.status}: nobody holds it")


def _findings(
    visit: VisitRecord, cmd: ReportVisit, state: BlockVisitsState, roster: RosterState | None
) -> tuple[list[Fact], Tally]:
    tally = state.tally
    findings = cmd.findings
    if findings is None or (findings.dispute is None and findings.fraud_dissuaded is None):
        return [], tally
    if cmd.outcome != "completed":
        raise Rejected(m.FINDINGS_WITHOUT_VISIT, f"findings on a visit that was {cmd.outcome}")
    facts: list[Fact] = []
    if (fraud := findings.fraud_dissuaded) is not None:
        facts.append(
            m.FraudDissuaded(
                source_id=visit.visit_id,
                household_id=visit.household_id,
                block=state.block,
                scheme=scheme_or_reject(fraud.scheme),
                amount_yuan=fraud.amount_yuan,
                source="visit",
            )
        )
        tally = tally.model_copy(
            update={
                "fraud_dissuaded": tally.fraud_dissuaded + 1,
                "fraud_dissuaded_yuan": tally.fraud_dissuaded_yuan + fraud.amount_yuan,
            }
        )
    if (dispute := findings.dispute) is not None:
        if roster is None:
            raise NeedRoster
        volunteer = entry(roster, cmd.volunteer_id)
        facts.append(
            m.DisputeDetected(
                visit_id=visit.visit_id,
                household_id=visit.household_id,
                block=state.block,
                category=dispute.category,
                parties=dispute.parties,
                description=dispute.description,
                resolved_on_site=dispute.resolved_on_site,
                found_by=cmd.volunteer_id,
                found_by_name=volunteer.name if volunteer else cmd.volunteer_id,
            )
        )
        tally = tally.model_copy(update={"disputes": tally.disputes + 1})
    return facts, tally


def _closed(tally: Tally, status: str) -> Tally:
    return tally.model_copy(update={status: getattr(tally, status) + 1})


def report(
    state: BlockVisitsState | None,
    cmd: ReportVisit,
    *,
    roster: RosterState | None,
    key: str,
    now: datetime,
    policy: VisitPolicy,
) -> Change[BlockVisitsState]:
    """The assigned volunteer reports a visit: the slot is freed, findings are stated."""
    visit = visit_in(state, cmd.visit_id)
    assert state is not None
    if visit.status != "assigned" or visit.volunteer_id != cmd.volunteer_id:
        _refuse_reporter(visit, cmd, roster)
    facts, tally = _findings(visit, cmd, state, roster)
    retry = cmd.outcome == "not_home" and visit.attempts < MAX_ATTEMPTS
    if retry:
        done = visit.model_copy(
            update={
                "status": "retry",
                "volunteer_id": None,
                "due_by": None,
                "not_before": now + policy.retry_after,
                "reported_by": cmd.volunteer_id,
            }
        )
    else:
        done = visit.model_copy(
            update={"status": cmd.outcome, "closed_at": now, "reported_by": cmd.volunteer_id}
        )
        tally = _closed(tally, cmd.outcome)
    completed = m.VisitCompleted(
        visit_id=visit.visit_id,
        household_id=visit.household_id,
        volunteer_id=cmd.volunteer_id,
        outcome=cmd.outcome,
        topics_covered=cmd.topics_covered,
        campaign_id=visit.campaign_id,
        block=state.block,
        retry=retry,
    )
    visits = [done if v.visit_id == visit.visit_id else v for v in state.visits]
    freed = SlotNote(key=key, at=now, volunteer_id=cmd.volunteer_id, count=1)
    after = finish(state, visits=visits, notes=[freed], tally=tally, now=now, policy=policy)
    return Change(after, [completed, *facts])


def lapse(
    state: BlockVisitsState | None, *, key: str, now: datetime, policy: VisitPolicy
) -> Change[BlockVisitsState] | None:
    """Due dates passed: overdue visits free their slot (and wait for someone else, once);
    households not at home become ready for their second try."""
    if state is None:
        return None
    facts: list[Fact] = []
    freed: dict[str, int] = {}
    tally = state.tally
    visits = []
    for before in state.visits:
        visit = before
        if visit.status == "assigned" and visit.due_by is not None and visit.due_by <= now:
            assert visit.volunteer_id is not None
            again = visit.attempts < MAX_ATTEMPTS
            freed[visit.volunteer_id] = freed.get(visit.volunteer_id, 0) + 1
            facts.append(
                m.VisitOverdue(
                    visit_id=visit.visit_id,
                    campaign_id=visit.campaign_id,
                    household_id=visit.household_id,
                    block=state.block,
                    volunteer_id=visit.volunteer_id,
                    due_by=visit.due_by,
                    reassigned=again,
                )
            )
            if again:
                visit = visit.model_copy(
                    update={
                        "status": "waiting",
                        "avoid": visit.volunteer_id,
                        "volunteer_id": None,
                        "due_by": None,
                    }
                )
            else:
                visit = visit.model_copy(update={"status": "overdue", "closed_at": now})
                tally = _closed(tally, "overdue")
        elif visit.status == "retry" and visit.not_before is not None and visit.not_before <= now:
            visit = visit.model_copy(update={"status": "waiting", "not_before": None})
        visits.append(visit)
    if visits == state.visits:
        return None
    notes = [
        SlotNote(key=key, at=now, volunteer_id=vid, count=n) for vid, n in sorted(freed.items())
    ]
    return Change(
        finish(state, visits=visits, notes=notes, tally=tally, now=now, policy=policy), facts
    )
