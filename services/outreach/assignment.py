"""Visit assignment, as pure functions: who takes which visit, never beyond anyone's maximum.

`allocate` follows the rule visit by visit, highest priority first: each goes to a
volunteer serving its block with the fewest open visits below their maximum (ties: the
smallest volunteer_id). What it returns is counts per block and volunteer (quotas), small
enough to reserve in one write; `distribute` then hands a block's visits out along its
quotas. A heap per block keeps 36,000 visits over 2,000 volunteers in milliseconds.
"""

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

V = TypeVar("V")


# a visit to place: its block, and the volunteer it should not go back to (if any)
Need = tuple[str, str | None]


@dataclass(frozen=True)
class Load:
    """A volunteer as assignment sees them."""

    volunteer_id: str
    blocks: frozenset[str]
    open_visits: int
    max_open_visits: int


@dataclass
class Allocation:
    """Visits per (block, volunteer), visits left without anyone per block, and each
    volunteer's open visits afterwards."""

    quotas: dict[tuple[str, str], int] = field(default_factory=dict)
    unplaced: dict[str, int] = field(default_factory=dict)
    open_visits: dict[str, int] = field(default_factory=dict)

    def placed(self) -> int:
        return sum(self.quotas.values())


def allocate(needs: Sequence[Need], loads: Sequence[Load]) -> Allocation:
    """Place visits, given as (block, volunteer to avoid) each, highest priority first."""
    current = {load.volunteer_id: load.open_visits for load in loads}
    maximum = {load.volunteer_id: load.max_open_visits for load in loads}
    heaps: dict[str, list[tuple[int, str]]] = {}
    for load in loads:
        if load.open_visits < load.max_open_visits:
            for block in load.blocks:
                heaps.setdefault(block, []).append((load.open_visits, load.volunteer_id))
    for heap in heaps.values():
        heapq.heapify(heap)
    result = Allocation(open_visits=current)
    for block, avoid in needs:
        chosen = _fewest_open(heaps.get(block, []), current, maximum, avoid)
        if chosen is None:
            result.unplaced[block] = result.unplaced.get(block, 0) + 1
            continue
        current[chosen] += 1
        result.quotas[(block, chosen)] = result.quotas.get((block, chosen), 0) + 1
        if current[chosen] < maximum[chosen]:
            heapq.heappush(heaps[block], (current[chosen], chosen))
    return result


def _fewest_open(
    heap: list[tuple[int, str]],
    current: Mapping[str, int],
    maximum: Mapping[str, int],
    avoid: str | None,
) -> str | None:
    """The volunteer with the fewest open visits below their maximum (ties: smallest id),
    other than `avoid` unless nobody else has room.

    Entries go stale when a volunteer serving several blocks takes a visit elsewhere: a
    stale one is put back with its current count, or dropped once the volunteer is full.
    """
    avoided: tuple[int, str] | None = None
    chosen = None
    while heap:
        seen, volunteer = heapq.heappop(heap)
        now = current[volunteer]
        if now >= maximum[volunteer]:
            continue
        if seen != now:
            heapq.heappush(heap, (now, volunteer))
            continue
        if volunteer == avoid:
            avoided = (seen, volunteer)
            continue
        chosen = volunteer
        break
    if chosen is None and avoided is not None:
        return avoided[1]
    if avoided is not None:
        heapq.heappush(heap, avoided)
    return chosen


def distribute(
    visits: Sequence[V], quotas: Mapping[str, int], avoid: Callable[[V], str | None]
) -> list[tuple[V, str]]:
    """Hand visits (highest priority first) out along one block's quotas: each to the
    volunteer with the most of their quota left (ties: smallest id), not to the one it
    should avoid unless nobody else is left. Visits beyond the quotas stay out."""
    heap = [(-count, volunteer) for volunteer, count in quotas.items() if count > 0]
    heapq.heapify(heap)
    given: list[tuple[V, str]] = []
    for visit in visits:
        if not heap:
            break
        skipped = None
        if heap[0][1] == avoid(visit) and len(heap) > 1:
            skipped = heapq.heappop(heap)
        left, volunteer = heapq.heappop(heap)
        given.append((visit, volunteer))
        if left + 1 < 0:
            heapq.heappush(heap, (left + 1, volunteer))
        if skipped is not None:
            heapq.heappush(heap, skipped)
    return given


def spread(waiting: Mapping[str, Sequence[str | None]], loads: Sequence[Load]) -> Allocation:
    """Place waiting visits, given per block (blocks in order) as the volunteer each should
    avoid, in the order the block hands them out: the same rule."""
    return allocate(
        [(block, avoid) for block in sorted(waiting) for avoid in waiting[block]], loads
    )
