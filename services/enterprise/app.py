"""Wiring of the enterprise service: the topics it uses and its FastStream subscribers."""

from services.enterprise.settings import EnterpriseSettings
from shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="enterprise",
    settings_type=EnterpriseSettings,
    topics=("enterprise.intake", "enterprise.events"),
)
