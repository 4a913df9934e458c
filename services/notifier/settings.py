"""Settings of the notifier service; its own knobs are read with the `NOTIFIER_` prefix."""

from shared import Port, ServiceSettings, settings_for


class NotifierSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings of the notifier service."""

    model_config = settings_for("notifier")

    http_port: Port = 8104
