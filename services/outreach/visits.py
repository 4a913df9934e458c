"""Rules of a block's visits (pure): created by a campaign, handed out along reserved
quotas, reported, overdue, tried again.

Every decision that frees a volunteer's slot, or could not use a reserved one, leaves a
`SlotNote` under its idempotency key: the roster gives those slots back in a later step,
and a replay finds the same notes.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.outreach import messages as m
from services.outreach.assignment import distribute
from services.outreach.state import (
    OPEN_STATUSES,
    BlockVisitsState,
    CampaignRef,
    Counted,
    SlotNote,
    Tally,
    VisitRecord,
)
from services.outreach.targeting import Planned, visit_id
from services.outreach.vocabulary import Severity
from shared import Change, Fact, Rejected

MAX_ATTEMPTS = 2  # a visit is re-assigned once (not at home, overdue), then closed
NOTES_KEPT = timedelta(days=7)  # a replay of the step that left a note comes sooner
# A block's visits are one document (a campaign writes 18 documents, not 36,000), so it
# keeps at most this many: a campaign's visits past them, lowest priority first, are not
# planned (`visits_not_planned`). Three county-wide campaigns a month over the county
# seat's blocks of about 2,000 households fit; at the cap the state stays under 8 MiB,
# leaving room for the outbox of a campaign's facts (tests/unit/test_document_bounds.py).
MAX_VISITS_PER_BLOCK = 6_000


@dataclass(frozen=True)
class VisitPolicy:
    due_after: Callable[[Severity], timedelta]
    retry_after: timedelta
    keep_closed: timedelta


class NeedRoster(Exception):  # noqa: N818 - a signal inside a handler, not an error
    """The decision needs the roster (a volunteer's name, or whether they exist)."""


def blank(block: str) -> BlockVisitsState:
    return BlockVisitsState(block=block)


def notes_for(state: BlockVisitsState | None, key: str) -> list[SlotNote]:
    return [n for n in state.notes if n.key == key] if state is not None else []


def waiting_count(state: BlockVisitsState | None) -> int:
    return sum(v.status == "waiting" for v in state.visits) if state is not None else 0


def counted(state: BlockVisitsState | None) -> Counted:
    """The block's waiting visits as counted on this revision of it."""
    return Counted(waiting_count(state), state.revision if state is not None else -1)


def _in_hand_out_order(state: BlockVisitsState) -> list[VisitRecord]:
    """Waiting visits, highest priority first, then the oldest campaign."""
    launched = {c.campaign_id: c.launched_at for c in state.campaigns}
    return sorted(
        (v for v in state.visits if v.status == "waiting"),
        key=lambda v: (-v.priority, launched[v.campaign_id], v.visit_id),
    )


def waiting_needs(state: BlockVisitsState | None) -> list[str | None]:
    """The block's waiting visits as the roster places them: the volunteer each should
    avoid, in the order the block hands them out."""
    return [v.avoid for v in _in_hand_out_order(state)] if state is not None else []


def next_check(state: BlockVisitsState | None) -> datetime | None:
    """When a visit of the block next falls due, or may be tried again."""
    times = [
        v.due_by if v.status == "assigned" else v.not_before
        for v in (state.visits if state is not None else [])
        if v.status in ("assigned", "retry")
    ]
    return min((t for t in times if t is not None), default=None)


def kept(visits: Sequence[VisitRecord], *, now: datetime, policy: VisitPolicy) -> list[VisitRecord]:
    """The visits a block keeps: open ones, and those closed in the last `keep_closed`."""
    return [
        v
        for v in visits
        if v.status in OPEN_STATUSES or (v.closed_at and now - v.closed_at <= policy.keep_closed)
    ]


def finish(
    state: BlockVisitsState,
    *,
    visits: list[VisitRecord],
    notes: Sequence[SlotNote] = (),
    tally: Tally | None = None,
    now: datetime,
    policy: VisitPolicy,
    refs: list[CampaignRef] | None = None,
) -> BlockVisitsState:
    """The block after a change: closed visits past the 30 days dropped, old notes and
    campaigns without visits dropped, the summary counted again."""
    kept_visits = kept(visits, now=now, policy=policy)
    live = {v.campaign_id for v in kept_visits}
    summary: dict[str, int] = {}
    for v in kept_visits:
        summary[v.status] = summary.get(v.status, 0) + 1
    return state.model_copy(
        update={
            "visits": kept_visits,
            "campaigns": [c for c in (refs or state.campaigns) if c.campaign_id in live],
            "notes": [n for n in [*state.notes, *notes] if now - n.at <= NOTES_KEPT],
            "tally": tally or state.tally,
            "summary": summary,
            "revision": state.revision + 1,
        }
    )


def _unused(
    quotas: Mapping[str, int], used: Sequence[str], key: str, at: datetime
) -> list[SlotNote]:
    left = dict(quotas)
    for volunteer in used:
        left[volunteer] -= 1
    return [
        SlotNote(key=key, at=at, volunteer_id=vid, count=n) for vid, n in sorted(left.items()) if n
    ]


def _assigned(visit: VisitRecord, ref: CampaignRef, block: str, name: str) -> m.VisitAssigned:
    assert visit.volunteer_id is not None
    assert visit.due_by is not None
    return m.VisitAssigned(
        visit_id=visit.visit_id,
        campaign_id=visit.campaign_id,
        volunteer_id=visit.volunteer_id,
        volunteer_name=name,
        household_id=visit.household_id,
        block=block,
        priority=visit.priority,
        topics=ref.topics,
        due_by=visit.due_by,
        scheme=ref.scheme,
        attempt=visit.attempts,
    )


def _hand_out(
    state: BlockVisitsState,
    candidates: Sequence[VisitRecord],
    quotas: Mapping[str, int],
    names: Mapping[str, str],
    *,
    key: str,
    now: datetime,
    policy: VisitPolicy,
    refs: Mapping[str, CampaignRef],
) -> tuple[dict[str, VisitRecord], list[Fact], list[SlotNote]]:
    """Give candidates out along the quotas: the visits changed, their facts, unused slots."""
    given = distribute(candidates, quotas, lambda v: v.avoid)
    changed: dict[str, VisitRecord] = {}
    facts: list[Fact] = []
    for visit, volunteer in given:
        ref = refs[visit.campaign_id]
        taken = visit.model_copy(
            update={
                "status": "assigned",
                "volunteer_id": volunteer,
                "due_by": now + policy.due_after(ref.severity),
                "attempts": visit.attempts + 1,
                "not_before": None,
                "avoid": None,
            }
        )
        changed[visit.visit_id] = taken
        facts.append(_assigned(taken, ref, state.block, names.get(volunteer, volunteer)))
    return changed, facts, _unused(quotas, [v for _, v in given], key, now)


def create(
    state: BlockVisitsState | None,
    *,
    block: str,
    ref: CampaignRef,
    planned: Sequence[Planned],
    quotas: Mapping[str, int],
    names: Mapping[str, str],
    key: str,
    now: datetime,
    policy: VisitPolicy,
) -> Change[BlockVisitsState]:
    """A campaign's visits in one block: handed out along the quotas reserved for them,
    the rest waiting (a coverage gap)."""
    current = state or blank(block)
    known = {v.visit_id for v in current.visits}
    new = [
        VisitRecord(
            visit_id=visit_id(block, ref.campaign_id, p.household_id),
            campaign_id=ref.campaign_id,
            household_id=p.household_id,
            priority=p.priority,
        )
        for p in planned
    ]
    new = [v for v in new if v.visit_id not in known]
    # `planned` comes highest priority first: what does not fit is the least urgent
    room = max(0, MAX_VISITS_PER_BLOCK - len(kept(current.visits, now=now, policy=policy)))
    new, dropped = new[:room], new[room:]
    refs = {c.campaign_id: c for c in current.campaigns} | {ref.campaign_id: ref}
    changed, facts, unused = _hand_out(
        current, new, quotas, names, key=key, now=now, policy=policy, refs=refs
    )
    if dropped:
        facts.append(
            m.VisitsNotPlanned(
                campaign_id=ref.campaign_id,
                block=block,
                households_not_visited=len(dropped),
                reason="block_full",
            )
        )
    visits = [*current.visits, *(changed.get(v.visit_id, v) for v in new)]
    left = len(new) - len(changed)
    if left:
        facts.append(
            m.CoverageGapDetected(
                campaign_id=ref.campaign_id, block=block, households_unassigned=left
            )
        )
    after = finish(
        current, visits=visits, notes=unused, now=now, policy=policy, refs=list(refs.values())
    )
    return Change(after, facts)


def assign_waiting(
    state: BlockVisitsState | None,
    *,
    block: str,
    quotas: Mapping[str, int],
    names: Mapping[str, str],
    key: str,
    now: datetime,
    policy: VisitPolicy,
) -> Change[BlockVisitsState] | None:
    """Waiting visits (coverage gaps, second tries) handed out along reserved quotas,
    highest priority first, then the oldest campaign."""
    if not quotas:
        return None
    current = state or blank(block)
    refs = {c.campaign_id: c for c in current.campaigns}
    changed, facts, unused = _hand_out(
        current,
        _in_hand_out_order(current),
        quotas,
        names,
        key=key,
        now=now,
        policy=policy,
        refs=refs,
    )
    visits = [changed.get(v.visit_id, v) for v in current.visits]
    return Change(finish(current, visits=visits, notes=unused, now=now, policy=policy), facts)


def visit_in(state: BlockVisitsState | None, visit_id: str) -> VisitRecord:
    for visit in state.visits if state is not None else []:
        if visit.visit_id == visit_id:
            return visit
    raise Rejected(m.UNKNOWN_VISIT, f"{visit_id} was never planned (or closed long ago)")
