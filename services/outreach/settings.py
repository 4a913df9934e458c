"""Settings of the outreach service; its own knobs are read with the `OUTREACH_` prefix."""

from shared import Port, ServiceSettings, settings_for


class OutreachSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings of the outreach service."""

    model_config = settings_for("outreach")

    http_port: Port = 8103
