"""Wiring of the notifier service: the topics it uses and its FastStream subscribers."""

from services.notifier.settings import NotifierSettings
from shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="notifier",
    settings_type=NotifierSettings,
    topics=("enterprise.events", "outreach.events", "mediation.events", "notifier.events"),
)
