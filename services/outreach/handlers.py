"""Outreach handlers for the commands on outreach.intake.

Each applies pure decisions (domain.py, roster.py, reports.py, homeservice.py) to the
stores under the message's idempotency key, a step key per further aggregate; campaigns
and the hand-out of visits are the flow in campaigns.py.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from services.outreach import domain, homeservice, reports
from services.outreach import messages as m
from services.outreach import roster as rules
from services.outreach.campaigns import Campaigns
from services.outreach.commands import (
    CompleteHomeService,
    IssueFraudWarning,
    RegisterHousehold,
    RegisterVolunteer,
    ReportFraudAttempt,
    ReportVisit,
    RequestHomeService,
)
from services.outreach.domain import Blocks, CampaignPlan, ClusterRule
from services.outreach.homeservice import BookingRule
from services.outreach.state import AGENDA_ID, ROSTER_ID, HouseholdState
from services.outreach.store import OutreachStore
from services.outreach.targeting import block_of_visit, campaign_id_for
from services.outreach.visits import NeedRoster, VisitPolicy, notes_for
from services.outreach.vocabulary import Target, is_block
from shared import Context, Rejected


@dataclass(frozen=True)
class OutreachHandlers:
    """The commands on outreach.intake."""

    store: OutreachStore
    campaigns: Campaigns
    blocks: Blocks
    cluster_rule: ClusterRule
    booking_rule: BookingRule
    local_offset: timedelta

    async def register_household(self, cmd: RegisterHousehold, ctx: Context) -> None:
        """A household joins the registry (or changes): its block's index follows."""
        # read before the household is written, so a full block refuses it and changes
        # nothing; registrations racing on other partitions may pass the cap by a few,
        # which its margin below 16 MiB absorbs
        registry = await self.store.registry.load(cmd.block)
        applied = await self.store.households.apply(
            cmd.household_id,
            ctx,
            lambda s: domain.register_household(s, cmd, self.blocks, registry),
        )
        household: HouseholdState | None = applied.state
        assert household is not None
        await self.store.registry.apply(
            household.block,
            ctx.step("index"),
            lambda r: domain.index_household(r, household),
        )
        if household.previous_block is not None:
            await self.store.registry.apply(
                household.previous_block,
                ctx.step("unindex"),
                lambda r: domain.unindex_household(r, household.household_id),
            )

    async def register_volunteer(self, cmd: RegisterVolunteer, ctx: Context) -> None:
        """A volunteer joins (or changes): visits waiting in their blocks are handed out."""
        await self.store.roster.apply(ROSTER_ID, ctx, lambda r: rules.register(r, cmd, self.blocks))
        await self.campaigns.hand_out(ctx, blocks=cmd.blocks)

    async def issue_fraud_warning(self, cmd: IssueFraudWarning, ctx: Context) -> None:
        """A fraud warning launches a campaign to the households it targets."""
        blocks = domain.check_warning(cmd, self.blocks)
        plan = CampaignPlan(
            campaign_id=campaign_id_for(cmd.warning_id),
            warning_id=cmd.warning_id,
            scheme=cmd.scheme,
            title=cmd.title,
            severity=cmd.severity,
            trigger="warning",
            blocks=blocks,
            target=cmd.target,
            issued_by=cmd.issued_by,
        )
        await self.campaigns.launch(ctx, plan)

    async def report_fraud_attempt(self, cmd: ReportFraudAttempt, ctx: Context) -> None:
        """An attempt report; enough of one scheme in one block launch a campaign there."""
        domain.scheme_or_reject(cmd.scheme)
        self.blocks.check(cmd.block)
        if cmd.household_id is not None:
            household = await self.store.households.load(cmd.household_id)
            if household is None:
                raise Rejected(m.UNKNOWN_HOUSEHOLD, f"{cmd.household_id} is not registered")
            if household.block != cmd.block:
                raise Rejected(
                    m.HOUSEHOLD_NOT_IN_BLOCK, f"{cmd.household_id} lives in {household.block}"
                )
        now = ctx.now()
        await self.store.attempts.apply(
            cmd.report_id, ctx, lambda s: domain.record_attempt(s, cmd, now)
        )
        step = ctx.step("cluster")
        cluster_id = step.derive("cluster")
        window = await self.store.clusters.apply(
            f"{cmd.block}|{cmd.scheme}",
            step,
            lambda s: domain.sighted(
                s,
                cmd,
                at=now,
                rule=self.cluster_rule,
                cluster_id=cluster_id,
                campaign_id=campaign_id_for(cluster_id),
            ),
        )
        cluster = window.state.cluster if window.state is not None else None
        if cluster is None or cluster.cluster_id != cluster_id:
            return
        plan = CampaignPlan(
            campaign_id=cluster.campaign_id,
            warning_id=cluster_id,
            scheme=cmd.scheme,
            title=f"{cluster.reports} reports of {cmd.scheme} in {cmd.block} within a day",
            severity="high",
            trigger="fraud_cluster",
            blocks=[cmd.block],
            target=Target(all_households=True),
            issued_by="outreach",
        )
        await self.campaigns.launch(step.step("campaign"), plan)

    async def report_visit(self, cmd: ReportVisit, ctx: Context) -> None:
        """The assigned volunteer reports a visit: their slot goes to a waiting visit."""
        block = block_of_visit(cmd.visit_id)
        if not is_block(block, self.blocks.count):
            raise Rejected(m.UNKNOWN_VISIT, f"{cmd.visit_id} was never planned")
        decide = partial(
            reports.report, cmd=cmd, roster=None, key=ctx.key, now=ctx.now(), policy=self.policy
        )
        try:
            reported = await self.store.visits(block).apply(block, ctx, decide)
        except NeedRoster:
            # only a finding or a refusal needs the volunteers' names
            roster = await self.store.load_roster() or rules.roster_or_empty(None)
            reported = await self.store.visits(block).apply(
                block, ctx, partial(decide, roster=roster)
            )
        await self.campaigns.watch(ctx, block, reported.state)
        await self.campaigns.hand_out(
            ctx,
            blocks=[block],
            freed=notes_for(reported.state, ctx.key),
            changed=reported.state,
        )

    @property
    def policy(self) -> VisitPolicy:
        return self.campaigns.policy

    def today(self, ctx: Context) -> date:
        """Today at the station (local time)."""
        return (ctx.now() + self.local_offset).date()

    async def request_home_service(self, cmd: RequestHomeService, ctx: Context) -> None:
        """A home service booked with an officer on the earliest preferred day with room."""
        self.blocks.check(cmd.block)
        today = self.today(ctx)
        preferred = homeservice.check_dates(cmd, today)
        roster = await self.store.load_roster()
        officers = rules.officers(roster, cmd.block)
        before = await self.store.home_services.load(cmd.request_id)
        booked = await self.store.agenda.apply(
            AGENDA_ID,
            ctx.step("book"),
            lambda a: homeservice.book(
                a,
                cmd,
                officers=officers,
                preferred=preferred,
                today=today,
                rule=self.booking_rule,
                requested_before=before is not None,
            ),
        )
        booking = homeservice.booking_of(booked.state, cmd.request_id)
        officer = rules.entry(roster, booking.officer_id) if booking else None
        if booking is None or officer is None:
            raise LookupError(f"{cmd.request_id}: its booking is gone from the agenda")
        await self.store.home_services.apply(
            cmd.request_id,
            ctx.step("schedule"),
            lambda s: homeservice.schedule(
                s, cmd, booking=booking, officer=officer, preferred=preferred
            ),
        )

    async def complete_home_service(self, cmd: CompleteHomeService, ctx: Context) -> None:
        """The booked officer did the home service."""
        now = ctx.now()
        await self.store.home_services.apply(
            cmd.request_id, ctx, lambda s: homeservice.complete(s, cmd, now)
        )
