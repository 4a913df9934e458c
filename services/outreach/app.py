"""Wiring of the outreach service (its handlers come with its issue)."""

from services.outreach.settings import OutreachSettings
from shared import Runtime, Service


def wire(runtime: Runtime[OutreachSettings]) -> None:
    """Nothing to wire yet: the service publishes on its events topic only."""


SERVICE = Service("outreach", OutreachSettings, wire)
