"""Wiring of the mediation service: the topics it uses and its FastStream subscribers."""

from services.mediation.settings import MediationSettings
from shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="mediation",
    settings_type=MediationSettings,
    topics=("mediation.intake", "mediation.events", "outreach.events"),
)
