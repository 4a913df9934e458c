"""Settings of the enterprise service; its own knobs are read with the `ENTERPRISE_` prefix."""

from pydantic import Field

from shared import Port, ServiceSettings, settings_for


class EnterpriseSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings, and the redistribution rules' knobs."""

    model_config = settings_for("enterprise")

    http_port: Port = 8102
    # recipients farther than this (great-circle) are not considered
    max_distance_km: float = Field(default=50.0, gt=0)
    # a proposed transfer not answered within this is declined as expired (default 24 h)
    response_deadline_s: float = Field(default=24 * 3600, gt=0)
    # how often the in-memory market of a chemical is rebuilt from the store, to see the
    # changes other replicas stored (this process's own are seen at once)
    market_refresh_s: float = Field(default=60.0, gt=0)
