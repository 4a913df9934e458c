"""Wiring of the notifier service: its stores, channels, handlers and figures.

`wiring(channels)` builds the wire function; the service runs with the real channels
(`channels_from`), rule tests with in-memory ones.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta

import structlog

from services.notifier import messages
from services.notifier.channels import Sender, channels_from
from services.notifier.delivery import Delivery, DeliveryRules
from services.notifier.directory import Directory
from services.notifier.domain import RateLimit, RetryPolicy
from services.notifier.handlers import NotifierHandlers
from services.notifier.messages import Channel
from services.notifier.settings import NotifierSettings
from services.notifier.state import NotificationState
from services.notifier.store import NotifierStore
from shared import Runtime, Service

log = structlog.get_logger("station.notifier")
Channels = Callable[[NotifierSettings], Mapping[Channel, Sender]]


def delivery_rules(settings: NotifierSettings) -> DeliveryRules:
    return DeliveryRules(
        channels=tuple(settings.channels),
        policy=RetryPolicy(
            max_attempts=settings.max_attempts,
            initial=timedelta(seconds=settings.retry_initial_s),
            cap=timedelta(seconds=settings.retry_max_s),
        ),
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        quiet_kinds=frozenset(settings.quiet_kinds),
        zone=settings.zone,
        default_language=settings.default_language,
        languages=dict(settings.languages),
        signature_zh=settings.signature_zh,
        signature_en=settings.signature_en,
        limit=RateLimit(
            settings.max_per_recipient_per_hour, timedelta(seconds=settings.rate_window_s)
        ),
    )


def wiring(channels: Channels = channels_from) -> Callable[[Runtime[NotifierSettings]], None]:
    """The wire function, with the channels `channels` makes from the settings; a
    configured channel with nothing to send through (no gateway, no SMTP host) is left
    out, never sent to a development sink in its place."""

    def wire(runtime: Runtime[NotifierSettings]) -> None:
        settings = runtime.settings
        store = NotifierStore.on(runtime)
        senders = channels(settings)
        rules = delivery_rules(settings)
        usable = tuple(c for c in rules.channels if c in senders)
        for missing in sorted(set(rules.channels) - set(usable)):
            log.warning("channel_not_configured", channel=missing)
        rules = replace(rules, channels=usable or ("log",))
        delivery = Delivery(store, senders, rules)
        directory = Directory(store)
        tell = NotifierHandlers(delivery, directory, settings.desks())
        runtime.handle(
            directory.enterprise_registered,
            directory.volunteer_registered,
            directory.mediator_registered,
            tell.over_capacity_detected,
            tell.redistribution_proposed,
            tell.redistribution_escalated,
            tell.mediator_assigned,
            tell.session_overdue,
            tell.case_escalated,
            tell.visit_assigned,
            tell.coverage_gap_detected,
            tell.home_service_scheduled,
            delivery.delivery_due,
            delivery.summary_due,
        )
        runtime.erasable(messages.ErasePerson, messages.PersonErased)
        runtime.expire(store.notifications, NotificationState.done_at)
        runtime.report(store.stats)

    return wire


wire = wiring()
SERVICE = Service("notifier", NotifierSettings, wire, contract=messages)
