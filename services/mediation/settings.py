"""Settings of the mediation service; its own knobs are read with the `MEDIATION_` prefix."""

from shared import Port, ServiceSettings, settings_for


class MediationSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings of the mediation service."""

    model_config = settings_for("mediation")

    http_port: Port = 8101
