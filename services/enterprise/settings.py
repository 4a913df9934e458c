"""Settings of the enterprise service; its own knobs are read with the `ENTERPRISE_` prefix."""

from pydantic_settings import SettingsConfigDict

from shared.settings import Port, ServiceSettings


class EnterpriseSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings of the enterprise service."""

    model_config = SettingsConfigDict(env_prefix="ENTERPRISE_", extra="ignore", frozen=True)

    mongodb_database: str = "enterprise"
    http_port: Port = 8102
    consumer_group: str = "enterprise"
