"""Settings of the mediation service; its own knobs are read with the `MEDIATION_` prefix."""

from pydantic import Field

from shared import Port, ServiceSettings, settings_for

HOUR_S = 3600.0
DAY_S = 24 * HOUR_S


class MediationSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings, and the mediation rules' knobs (SLAs in seconds)."""

    model_config = settings_for("mediation")

    http_port: Port = 8101
    # no session recorded this long after a case opened: session_overdue, once (72 h)
    session_deadline_s: float = Field(default=72 * HOUR_S, gt=0)
    # a case still open this long after it opened is escalated `overdue` (one month)
    resolution_target_s: float = Field(default=30 * DAY_S, gt=0)
    # this many sessions ending without agreement escalate the case `no_agreement` (court)
    max_sessions_without_agreement: int = Field(default=3, ge=1)
    # deadlines are acted on by sweeps at most this long after they pass: one timer for
    # every case due, not one per case (services/mediation/deadlines.py)
    sla_granularity_s: float = Field(default=60.0, gt=0)
    # The kit's outbox relay looks for events a crash left unsent with a query FerretDB
    # answers by reading every case (about 5 s at 5,000 open cases on a busy 2-core
    # machine); every 2 s (the kit's default) that read never stopped. Redelivery
    # re-publishes what a crash left too; the relay is the fallback, so it runs less often.
    outbox_relay_interval_s: float = Field(default=30.0, gt=0)
