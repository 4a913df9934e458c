"""Wiring of the mediation service (its handlers come with its issue)."""

from services.mediation.settings import MediationSettings
from shared import Runtime, Service


def wire(runtime: Runtime[MediationSettings]) -> None:
    """Nothing to wire yet: the service publishes on its events topic only."""


SERVICE = Service("mediation", MediationSettings, wire)
