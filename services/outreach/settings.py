"""Settings of the outreach service; its own knobs are read with the `OUTREACH_` prefix."""

from pydantic_settings import SettingsConfigDict

from shared.settings import Port, ServiceSettings


class OutreachSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings of the outreach service."""

    model_config = SettingsConfigDict(env_prefix="OUTREACH_", extra="ignore", frozen=True)

    mongodb_database: str = "outreach"
    http_port: Port = 8103
    consumer_group: str = "outreach"
