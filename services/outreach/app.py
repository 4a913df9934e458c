"""Wiring of the outreach service: the topics it uses and its FastStream subscribers."""

from services.outreach.settings import OutreachSettings
from shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="outreach",
    settings_type=OutreachSettings,
    topics=("outreach.intake", "outreach.events"),
)
