"""Settings of the notifier service; its own knobs are read with the `NOTIFIER_` prefix."""

from pydantic_settings import SettingsConfigDict

from shared.settings import Port, ServiceSettings


class NotifierSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings of the notifier service."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True)

    mongodb_database: str = "notifier"
    http_port: Port = 8104
    consumer_group: str = "notifier"
