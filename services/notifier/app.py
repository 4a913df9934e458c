"""Wiring of the notifier service (its handlers come with its issue)."""

from services.notifier.settings import NotifierSettings
from shared import Runtime, Service


def wire(runtime: Runtime[NotifierSettings]) -> None:
    """Nothing to wire yet: the service publishes on its events topic only."""


SERVICE = Service("notifier", NotifierSettings, wire)
