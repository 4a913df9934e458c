"""Wiring of the outreach service: its stores, its handlers, its figures."""

from datetime import timedelta

from services.outreach import messages
from services.outreach.campaigns import Campaigns
from services.outreach.commands import ErasePerson
from services.outreach.domain import Blocks, ClusterRule
from services.outreach.handlers import OutreachHandlers
from services.outreach.homeservice import BookingRule
from services.outreach.settings import OutreachSettings
from services.outreach.state import HomeServiceState
from services.outreach.store import OutreachStore
from services.outreach.visits import VisitPolicy
from services.outreach.vocabulary import all_blocks
from shared import Runtime, Service


def wire(runtime: Runtime[OutreachSettings]) -> None:
    settings = runtime.settings
    store = OutreachStore.on(runtime, all_blocks(settings.blocks))
    policy = VisitPolicy(
        due_after=settings.due_after,
        retry_after=timedelta(seconds=settings.not_home_retry_after_s),
        keep_closed=timedelta(days=settings.recently_visited_days + 1),
    )
    campaigns = Campaigns(
        store,
        policy,
        recently=timedelta(days=settings.recently_visited_days),
        check_every=timedelta(seconds=settings.overdue_check_slice_s),
    )
    commands = OutreachHandlers(
        store,
        campaigns,
        Blocks(settings.blocks),
        ClusterRule(settings.cluster_reports, timedelta(seconds=settings.cluster_window_s)),
        BookingRule(settings.home_visits_per_officer_per_day, settings.booking_horizon_days),
        timedelta(hours=settings.local_utc_offset_h),
    )
    runtime.handle(
        commands.register_household,
        commands.register_volunteer,
        commands.issue_fraud_warning,
        commands.report_fraud_attempt,
        commands.report_visit,
        commands.request_home_service,
        commands.complete_home_service,
        campaigns.block_due,
    )
    # a household's address (and a home service's) is the person's home: it goes with them
    runtime.erasable(
        ErasePerson,
        messages.PersonErased,
        with_person={"households": ("address",), "home_services": ("address", "notes")},
    )
    runtime.expire(store.home_services, HomeServiceState.finished_at)
    runtime.report(store.stats)


SERVICE = Service("outreach", OutreachSettings, wire, contract=messages)
