"""Settings of the mediation service; its own knobs are read with the `MEDIATION_` prefix."""

from pydantic_settings import SettingsConfigDict

from shared.settings import Port, ServiceSettings


class MediationSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings of the mediation service."""

    model_config = SettingsConfigDict(env_prefix="MEDIATION_", extra="ignore", frozen=True)

    mongodb_database: str = "mediation"
    http_port: Port = 8101
    consumer_group: str = "mediation"
