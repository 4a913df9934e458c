"""Who a campaign visits, and in what order: pure functions over the registry and the visits.

A household fits a warning's target when its business type is targeted, a member is at
least the minimum age, or the warning is for all households; it is left out when it was
visited about the same scheme in the last 30 days (or a visit about it is still open).
Priority is risk: living alone elderly, an earlier victim, a targeted business, age.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.outreach.state import (
    OPEN_STATUSES,
    VISITED_STATUSES,
    BlockVisitsState,
    HouseholdState,
    RegistryEntry,
)
from services.outreach.vocabulary import Target
from shared import stable_id

# risk weights: who is most likely to be cheated, and to lose most
ALONE_ELDERLY = 4
PRIOR_VICTIM = 3
TARGETED_BUSINESS = 2
VERY_OLD_AGE, VERY_OLD = 80, 2
OLD_AGE, OLD = 65, 1
_VISIT_NAMESPACE = uuid.UUID("3b8f5a52-6a1d-5c1e-9d0b-4a7e2f6c1d90")


def registry_entry(household: HouseholdState) -> RegistryEntry:
    """What targeting keeps of a registered household."""
    return RegistryEntry(
        household_id=household.household_id,
        business_type=household.business_type,
        oldest_age=max((m.age for m in household.members), default=0),
        lives_alone_elderly=household.lives_alone_elderly,
        prior_fraud_victim=household.prior_fraud_victim,
    )


def fits(entry: RegistryEntry, target: Target) -> bool:
    """Whether a household fits the target (any one criterion is enough)."""
    if target.all_households:
        return True
    if target.business_types and entry.business_type in target.business_types:
        return True
    return target.min_age is not None and entry.oldest_age >= target.min_age


def priority(entry: RegistryEntry, target: Target) -> int:
    """Higher first: elderly living alone, earlier victims, a targeted business, age."""
    score = 0
    if entry.lives_alone_elderly:
        score += ALONE_ELDERLY
    if entry.prior_fraud_victim:
        score += PRIOR_VICTIM
    if target.business_types and entry.business_type in target.business_types:
        score += TARGETED_BUSINESS
    if entry.oldest_age >= VERY_OLD_AGE:
        score += VERY_OLD
    elif entry.oldest_age >= OLD_AGE:
        score += OLD
    return score


def visit_id(block: str, campaign_id: str, household_id: str) -> str:
    """A visit's id, the same on every replay of its campaign; it names its block, which
    holds it."""
    digest = stable_id(_VISIT_NAMESPACE, campaign_id + "\x1f" + household_id).replace("-", "")[:20]
    return f"{block}/{digest}"


def campaign_id_for(cause_id: str) -> str:
    """A campaign's id, from the warning (or cluster) that launched it: once per cause."""
    return stable_id(_VISIT_NAMESPACE, "campaign\x1f" + cause_id)


def block_of_visit(visit_id: str) -> str:
    return visit_id.split("/", 1)[0]


def recently_visited(
    visits: BlockVisitsState | None,
    scheme: str,
    *,
    now: datetime,
    within: timedelta,
    campaign_id: str,
) -> set[str]:
    """Households of a block visited about `scheme` within `within`, or with a visit about it
    still open (the campaign's own visits, found again on a replay, do not count)."""
    if visits is None:
        return set()
    schemes = {c.campaign_id: c.scheme for c in visits.campaigns}
    since = now - within
    return {
        v.household_id
        for v in visits.visits
        if v.campaign_id != campaign_id
        and schemes.get(v.campaign_id) == scheme
        and (
            v.status in OPEN_STATUSES
            or (v.status in VISITED_STATUSES and v.closed_at is not None and v.closed_at >= since)
        )
    }


@dataclass(frozen=True)
class Planned:
    """One household a campaign will visit."""

    household_id: str
    block: str
    priority: int


@dataclass
class TargetPlan:
    """The households a campaign visits, per block, highest priority first."""

    by_block: dict[str, list[Planned]] = field(default_factory=dict)
    households_targeted: int = 0
    recently_visited: int = 0

    @property
    def visits_planned(self) -> int:
        return sum(len(planned) for planned in self.by_block.values())

    def in_priority_order(self) -> list[Planned]:
        """Every planned visit, across blocks: priority first, then block and household."""
        return sorted(
            (p for planned in self.by_block.values() for p in planned),
            key=lambda p: (-p.priority, p.block, p.household_id),
        )


def plan_block(
    entries: Iterable[RegistryEntry], target: Target, skip: set[str], block: str
) -> tuple[list[Planned], int, int]:
    """One block's planned visits (priority order), how many fit, how many were skipped."""
    fitting = [e for e in entries if fits(e, target)]
    planned = [
        Planned(e.household_id, block, priority(e, target))
        for e in fitting
        if e.household_id not in skip
    ]
    planned.sort(key=lambda p: (-p.priority, p.household_id))
    return planned, len(fitting), len(fitting) - len(planned)


def plan_targets(
    registry: Mapping[str, Iterable[RegistryEntry]],
    skip: Mapping[str, set[str]],
    target: Target,
) -> TargetPlan:
    """The campaign's visits over its blocks: the registry's fitting households, less those
    visited recently (`skip`, per block)."""
    plan = TargetPlan()
    for block in sorted(registry):
        planned, fitting, skipped = plan_block(
            registry[block], target, skip.get(block, set()), block
        )
        plan.by_block[block] = planned
        plan.households_targeted += fitting
        plan.recently_visited += skipped
    return plan
