"""Rules of the roster: volunteers, and the visits each holds (pure).

Slots are reserved before a block hands its visits out: the roster records the quotas
under the step's key (so a replay finds them), the blocks take what they can, and a
settling write drops the reservation and gives back what was not used. Freed slots (a
report, an overdue visit) come back in the same write that reserves them again.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.outreach import messages as m
from services.outreach.assignment import Load, Need, allocate, spread
from services.outreach.commands import RegisterVolunteer
from services.outreach.domain import Blocks
from services.outreach.state import (
    Counted,
    Quota,
    Reservation,
    RosterEntry,
    RosterState,
    SlotNote,
)
from shared import Change, Rejected

# The roster is one document (reservations are one compare-and-set over every volunteer),
# so what it holds is capped: entries (one per volunteer) and reserved quotas, which are
# at most one per slot, since a reservation raises open visits only up to the maximum.
# At these caps the largest roster the command bounds allow stays far below MongoDB's
# 16 MiB (tests/unit/test_document_bounds.py); the county's 2,000 volunteers fit.
MAX_VOLUNTEERS = 2_500
MAX_SLOTS = 50_000


def roster_or_empty(state: RosterState | None) -> RosterState:
    return state if state is not None else RosterState()


def entry(state: RosterState | None, volunteer_id: str) -> RosterEntry | None:
    for found in roster_or_empty(state).volunteers:
        if found.volunteer_id == volunteer_id:
            return found
    return None


def register(
    state: RosterState | None, cmd: RegisterVolunteer, blocks: Blocks
) -> Change[RosterState]:
    """A volunteer joins, or changes their blocks or maximum; their open visits stay."""
    if not cmd.blocks:
        raise Rejected(m.NO_BLOCKS, f"{cmd.volunteer_id} serves no block")
    served = sorted({blocks.check(block) for block in cmd.blocks})
    roster = roster_or_empty(state)
    before = entry(roster, cmd.volunteer_id)
    check_room(roster, cmd, before)
    updated = RosterEntry(
        **cmd.model_dump(exclude={"blocks"}),
        blocks=served,
        open_visits=before.open_visits if before else 0,
    )
    others = [v for v in roster.volunteers if v.volunteer_id != cmd.volunteer_id]
    volunteers = sorted([*others, updated], key=lambda v: v.volunteer_id)
    fact = m.VolunteerRegistered(**updated.model_dump())
    return Change(roster.model_copy(update={"volunteers": volunteers}), [fact])


def _slots(volunteer: RosterEntry) -> int:
    # visits held past a lowered maximum still hold their slots (and their quotas)
    return max(volunteer.max_open_visits, volunteer.open_visits)


def check_room(roster: RosterState, cmd: RegisterVolunteer, before: RosterEntry | None) -> None:
    """Refuses a registration past the roster's caps (an update that adds nothing passes)."""
    if before is None and len(roster.volunteers) >= MAX_VOLUNTEERS:
        raise Rejected(m.ROSTER_FULL, f"the roster holds {MAX_VOLUNTEERS} volunteers already")
    others = sum(_slots(v) for v in roster.volunteers if v.volunteer_id != cmd.volunteer_id)
    held = before.open_visits if before is not None else 0
    wanted = others + max(cmd.max_open_visits, held)
    grows = before is None or wanted > others + _slots(before)
    if grows and wanted > MAX_SLOTS:
        raise Rejected(
            m.ROSTER_FULL,
            f"max_open_visits {cmd.max_open_visits} would take the roster to {wanted} slots "
            f"(at most {MAX_SLOTS}); {MAX_SLOTS - others} are left",
        )


def loads(volunteers: Sequence[RosterEntry]) -> list[Load]:
    return [
        Load(v.volunteer_id, frozenset(v.blocks), v.open_visits, v.max_open_visits)
        for v in volunteers
    ]


def reservation(state: RosterState | None, key: str) -> Reservation | None:
    for found in roster_or_empty(state).pending:
        if found.key == key:
            return found
    return None


def _moved(volunteers: Sequence[RosterEntry], delta: Mapping[str, int]) -> list[RosterEntry]:
    """Volunteers with their open visits moved by `delta` (never below zero)."""
    return [
        v.model_copy(update={"open_visits": max(0, v.open_visits + delta[v.volunteer_id])})
        if delta.get(v.volunteer_id)
        else v
        for v in volunteers
    ]


def _given_back(notes: Sequence[SlotNote]) -> dict[str, int]:
    delta: dict[str, int] = {}
    for note in notes:
        delta[note.volunteer_id] = delta.get(note.volunteer_id, 0) - note.count
    return delta


def _backlog(roster: RosterState, counts: Mapping[str, Counted]) -> dict[str, Any]:
    """The roster's backlog with the counts of newer block revisions (flows report what
    they saw in any order: a count made on an older revision of a block is dropped)."""
    backlog, seen = dict(roster.backlog), dict(roster.backlog_seen)
    for block, (count, revision) in counts.items():
        if revision >= seen.get(block, -1):
            backlog[block], seen[block] = count, revision
    return {"backlog": backlog, "backlog_seen": seen}


@dataclass(frozen=True)
class Wanted:
    """What a reservation is for: new visits (highest priority first), or visits waiting in
    `blocks` and in the blocks of freed volunteers (from `waiting` where the caller knows
    them, as the volunteer each should avoid, counted on revision `seen` of the block;
    else as many as the roster's backlog)."""

    new_visits: Sequence[Need] = ()
    waiting: Mapping[str, Sequence[str | None]] | None = None
    seen: Mapping[str, int] = field(default_factory=dict)
    blocks: Sequence[str] = ()


def reserve(
    state: RosterState | None,
    *,
    key: str,
    at: datetime,
    wanted: Wanted,
    freed: Sequence[SlotNote] = (),
) -> Change[RosterState] | None:
    """Give back freed slots, then reserve slots for what is wanted under `key`, in one
    write: the allocation is made on this very state, so nobody passes their maximum."""
    roster = roster_or_empty(state)
    volunteers = _moved(roster.volunteers, _given_back(freed))
    if wanted.new_visits:
        allocation = allocate(wanted.new_visits, loads(volunteers))
    else:
        # a freed slot may serve any block of its volunteer
        released = {note.volunteer_id for note in freed}
        blocks = set(wanted.blocks) | {
            b for v in volunteers if v.volunteer_id in released for b in v.blocks
        }
        known = wanted.waiting or {}
        waiting = {b: known[b] if b in known else [None] * roster.backlog.get(b, 0) for b in blocks}
        allocation = spread(waiting, loads(volunteers))
    counts = {b: Counted(len(w), wanted.seen.get(b, -1)) for b, w in (wanted.waiting or {}).items()}
    backlog = _backlog(roster, counts)
    if not allocation.quotas and not freed and backlog == _backlog(roster, {}):
        return None
    delta: dict[str, int] = {}
    for (_block, volunteer), count in allocation.quotas.items():
        delta[volunteer] = delta.get(volunteer, 0) + count
    pending = list(roster.pending)
    if allocation.quotas:
        quotas = [
            Quota(block=block, volunteer_id=volunteer, count=count)
            for (block, volunteer), count in sorted(allocation.quotas.items())
        ]
        pending.append(Reservation(key=key, at=at, quotas=quotas))
    return Change(
        roster.model_copy(
            update={
                "volunteers": _moved(volunteers, delta),
                "pending": pending,
                **backlog,
            }
        )
    )


def settle(
    state: RosterState | None,
    *,
    key: str,
    unused: Sequence[SlotNote],
    waiting: Mapping[str, Counted],
) -> Change[RosterState] | None:
    """The blocks took their visits: drop the reservation, give back what they did not use,
    and remember how many visits still wait in each block."""
    if state is None:
        return None
    backlog = _backlog(state, waiting)
    if reservation(state, key) is None and not unused and backlog == _backlog(state, {}):
        return None
    return Change(
        state.model_copy(
            update={
                "volunteers": _moved(state.volunteers, _given_back(unused)),
                "pending": [r for r in state.pending if r.key != key],
                **backlog,
            }
        )
    )


def quotas_by_block(found: Reservation | None) -> dict[str, dict[str, int]]:
    """A reservation's quotas, per block then volunteer."""
    by_block: dict[str, dict[str, int]] = {}
    for quota in found.quotas if found else []:
        by_block.setdefault(quota.block, {})[quota.volunteer_id] = quota.count
    return by_block


def blocks_with_room(state: RosterState | None) -> list[str]:
    """Blocks where visits wait while a volunteer serving them has room."""
    roster = roster_or_empty(state)
    waiting = {block for block, count in roster.backlog.items() if count > 0}
    return sorted(
        {
            block
            for v in roster.volunteers
            if v.open_visits < v.max_open_visits
            for block in v.blocks
            if block in waiting
        }
    )


def officers(state: RosterState | None, block: str) -> list[RosterEntry]:
    """The police volunteers serving the block, else every police volunteer."""
    police = [v for v in roster_or_empty(state).volunteers if v.organisation == "police"]
    serving = [v for v in police if block in v.blocks]
    return serving or police
