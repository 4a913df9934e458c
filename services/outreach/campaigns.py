"""The campaign flow and the hand-out of waiting visits: idempotent steps over a few large
documents, so a campaign over 36,000 households is a few dozen writes, not 36,000.

Launching a campaign (from a warning or a cluster of attempt reports):
1. read the registry and the visits of its blocks and pick the households;
2. the campaign is stored with `campaign_launched` (refused if the warning was used);
3. the roster reserves, in one compare-and-set, a quota per block and volunteer for every
   visit it can place, highest priority first (so nobody passes their maximum);
4. each block stores its visits, handed out along its quotas, the rest waiting (a
   coverage gap), with every `visit_assigned` in that block document's outbox;
5. the roster drops the reservation, takes back what a block did not use, and notes how
   many visits wait in each block.
Handing out waiting visits (a volunteer registers or frees up, a due date passes) is the
same reserve, hand out, settle. Each step has its own key (`ctx.step`), so a redelivery
finishes what a crash left; the roster keeps a reservation under its key until settled,
so a replay hands out the same quotas.
"""

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog

from services.outreach import domain, visits
from services.outreach import roster as rules
from services.outreach.commands import BlockDue
from services.outreach.domain import CampaignPlan
from services.outreach.reports import lapse
from services.outreach.state import (
    ROSTER_ID,
    BlockVisitsState,
    CampaignRef,
    Counted,
    RosterState,
    SlotNote,
)
from services.outreach.store import OutreachStore
from services.outreach.targeting import Planned, TargetPlan, plan_targets, recently_visited
from services.outreach.visits import VisitPolicy, counted, notes_for
from shared import Context

log = structlog.get_logger("station.outreach")

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# hand-outs that may follow a flow whose reservation raced another's (see `_again`)
MAX_ROUNDS = 3
# a block's read and decision overlap another's write (the server takes writes one by one,
# and a write queued behind others counts against its own deadline: two at a time)
BLOCKS_AT_ONCE = 2


def check_slice(when: datetime, length: timedelta) -> datetime:
    """The end of the slice `when` falls in: one timer per block and slice."""
    slices = -((EPOCH - when) // length)  # ceiling division
    return EPOCH + slices * length


def due_timer_id(block: str, at: datetime) -> str:
    return f"due:{block}:{at.isoformat()}"


@dataclass(frozen=True)
class Campaigns:
    """Launches campaigns and hands visits out to volunteers with room."""

    store: OutreachStore
    policy: VisitPolicy
    recently: timedelta
    check_every: timedelta

    async def launch(self, ctx: Context, plan: CampaignPlan) -> None:
        """A campaign over the plan's blocks: its visits planned, reserved and handed out."""
        now = ctx.now()
        clock = _Stopwatch()
        launched = None
        if await self.store.campaigns.load(plan.campaign_id) is not None:
            # a replay of this very message goes on below; another one is refused here
            launched = await self.store.campaigns.apply(
                plan.campaign_id, ctx, lambda s: domain.launch(s, plan, TargetPlan(), now)
            )
        targets = await self._targets(plan, now)
        clock.lap("read_ms")
        if launched is None:
            launched = await self.store.campaigns.apply(
                plan.campaign_id, ctx, lambda s: domain.launch(s, plan, targets, now)
            )
        assert launched.state is not None
        ref = CampaignRef(
            campaign_id=plan.campaign_id,
            scheme=plan.scheme,
            severity=plan.severity,
            topics=plan.topics,
            launched_at=launched.state.launched_at,
        )
        reserve = ctx.step("reserve")
        wanted = rules.Wanted(new_visits=[(p.block, None) for p in targets.in_priority_order()])
        reserved = await self.store.roster.apply(
            ROSTER_ID,
            reserve,
            lambda r: rules.reserve(r, key=reserve.key, at=now, wanted=wanted),
        )
        quotas = rules.quotas_by_block(rules.reservation(reserved.state, reserve.key))
        names = _names(reserved.state)
        clock.lap("reserve_ms")
        waiting: dict[str, Counted] = {}
        unused: list[SlotNote] = []
        lanes = asyncio.Semaphore(BLOCKS_AT_ONCE)

        async def store_block(block: str, planned: list[Planned]) -> None:
            step = ctx.step(f"visits:{block}", at_once=True)
            create = partial(
                visits.create,
                block=block,
                ref=ref,
                planned=planned,
                quotas=quotas.get(block, {}),
                names=names,
                key=step.key,
                now=now,
                policy=self.policy,
            )
            async with lanes:
                created = await self.store.visits(block).apply(block, step, create)
                await self.watch(ctx, block, created.state)
            waiting[block] = counted(created.state)
            unused.extend(notes_for(created.state, step.key))

        try:
            async with asyncio.TaskGroup() as group:
                for block, planned in sorted(targets.by_block.items()):
                    if planned:
                        group.create_task(store_block(block, planned))
        except ExceptionGroup as failed:
            # the consumer tells an outage from a failing handler by the exception itself
            raise _first(failed) from None
        clock.lap("blocks_ms")
        settled = await self._settle(ctx, reserve.key, unused, waiting)
        clock.lap("settle_ms")
        # how long each step took: a campaign over the county is the service's heaviest work
        log.info(
            "campaign_planned",
            campaign_id=plan.campaign_id,
            trigger=plan.trigger,
            scheme=plan.scheme,
            households_targeted=targets.households_targeted,
            visits_planned=targets.visits_planned,
            waiting=sum(c.waiting for c in waiting.values()),
            replay=launched.duplicate,
            **clock.laps,
        )
        await self._again(ctx, settled)

    async def _targets(self, plan: CampaignPlan, now: datetime) -> TargetPlan:
        registry = await self.store.registry_of(plan.blocks)
        current = await self.store.visits_of(plan.blocks)
        skip = {
            block: recently_visited(
                current.get(block),
                plan.scheme,
                now=now,
                within=self.recently,
                campaign_id=plan.campaign_id,
            )
            for block in plan.blocks
        }
        entries = {b: registry[b].households if b in registry else [] for b in plan.blocks}
        return plan_targets(entries, skip, plan.target)

    async def hand_out(
        self,
        ctx: Context,
        *,
        blocks: Iterable[str],
        freed: Sequence[SlotNote] = (),
        changed: BlockVisitsState | None = None,
        depth: int = 0,
    ) -> None:
        """Give freed slots back, then hand waiting visits of these blocks (and of the freed
        volunteers' blocks) out to volunteers with room. `changed`: a block the caller has
        just changed, whose waiting visits are known as they stand."""
        now = ctx.now()
        reserve = ctx.step("reserve")
        wanted = rules.Wanted(blocks=sorted(set(blocks)))
        if changed is not None:
            wanted = rules.Wanted(
                waiting={changed.block: visits.waiting_needs(changed)},
                seen={changed.block: changed.revision},
                blocks=wanted.blocks,
            )
        reserved = await self.store.roster.apply(
            ROSTER_ID,
            reserve,
            lambda r: rules.reserve(r, key=reserve.key, at=now, wanted=wanted, freed=freed),
        )
        quotas = rules.quotas_by_block(rules.reservation(reserved.state, reserve.key))
        names = _names(reserved.state)
        after: dict[str, Counted] = {}
        unused: list[SlotNote] = []
        for block, block_quotas in sorted(quotas.items()):
            step = ctx.step(f"assign:{block}", at_once=True)
            assign = partial(
                visits.assign_waiting,
                block=block,
                quotas=block_quotas,
                names=names,
                key=step.key,
                now=now,
                policy=self.policy,
            )
            assigned = await self.store.visits(block).apply(block, step, assign)
            after[block] = counted(assigned.state)
            unused += notes_for(assigned.state, step.key)
            await self.watch(ctx, block, assigned.state)
        final = reserved.state
        if quotas:
            final = await self._settle(ctx, reserve.key, unused, after)
        await self._again(ctx, final, depth)

    async def _settle(
        self, ctx: Context, key: str, unused: list[SlotNote], waiting: dict[str, Counted]
    ) -> RosterState | None:
        settled = await self.store.roster.apply(
            ROSTER_ID,
            ctx.step("settle"),
            lambda r: rules.settle(r, key=key, unused=unused, waiting=waiting),
        )
        return settled.state

    async def _again(self, ctx: Context, roster: RosterState | None, depth: int = 0) -> None:
        """Visits still waiting where someone has room: a flow running at the same time
        reserved on an older backlog. Hand out again (each round hands out or corrects
        the backlog, so a few rounds end it)."""
        blocks = rules.blocks_with_room(roster)
        if blocks and depth < MAX_ROUNDS:
            await self.hand_out(ctx.step("again"), blocks=blocks, depth=depth + 1)

    async def watch(self, ctx: Context, block: str, state: BlockVisitsState | None) -> None:
        """A timer at the block's next due date (or second try), rounded up to its slice."""
        when = visits.next_check(state)
        if when is not None:
            at = check_slice(when, self.check_every)
            await ctx.schedule(due_timer_id(block, at), BlockDue(block=block), at=at)

    async def block_due(self, due: BlockDue, ctx: Context) -> None:
        """Due dates passed in a block: overdue visits free their slots and wait for someone
        else; second tries become ready; then waiting visits are handed out."""
        lapsed = await self.store.visits(due.block).apply(
            due.block, ctx, lambda s: lapse(s, key=ctx.key, now=ctx.now(), policy=self.policy)
        )
        await self.watch(ctx, due.block, lapsed.state)
        await self.hand_out(
            ctx,
            blocks=[due.block],
            freed=notes_for(lapsed.state, ctx.key),
            changed=lapsed.state,
        )


class _Stopwatch:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 1)
        self._last = now


def _first(group: BaseExceptionGroup[Exception]) -> Exception:
    found = group.exceptions[0]
    return _first(found) if isinstance(found, BaseExceptionGroup) else found


def _names(state: RosterState | None) -> dict[str, str]:
    return {v.volunteer_id: v.name for v in state.volunteers} if state is not None else {}
