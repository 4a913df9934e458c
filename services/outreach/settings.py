"""Settings of the outreach service; its own knobs are read with the `OUTREACH_` prefix."""

from datetime import timedelta

from pydantic import Field

from services.outreach.vocabulary import Severity
from shared import Port, ServiceSettings, settings_for

DAY_S = 24 * 3600.0


class OutreachSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings, and the campaign and booking rules' knobs."""

    model_config = settings_for("outreach")

    http_port: Port = 8103
    # A county-wide campaign writes its blocks' documents over tens of seconds before it
    # publishes their facts (measured: 15-30 s for 21,000 visits on FerretDB under load);
    # the relay must not take those outboxes for a crash's leftovers and publish them twice.
    outbox_relay_grace_s: float = Field(default=120.0, ge=0)
    # the county seat is split into this many blocks: block-01 … block-18
    blocks: int = Field(default=18, ge=1, le=99)
    # attempt reports of one scheme in one block within the window that launch a campaign
    cluster_reports: int = Field(default=3, ge=1)
    cluster_window_s: float = Field(default=DAY_S, gt=0)
    # a household visited about a scheme is not targeted again about it for this long
    recently_visited_days: float = Field(default=30.0, ge=0)
    # a visit is due this long after it is assigned, by the warning's severity
    due_high_s: float = Field(default=2 * DAY_S, gt=0)
    due_medium_s: float = Field(default=7 * DAY_S, gt=0)
    due_low_s: float = Field(default=14 * DAY_S, gt=0)
    # a household not at home is visited once more, no sooner than this
    not_home_retry_after_s: float = Field(default=DAY_S, ge=0)
    # due dates are checked by one timer per block and slice of this length, not one per visit
    overdue_check_slice_s: float = Field(default=900.0, gt=0)
    # home visits one officer makes in a day, and how far ahead a booking may go
    home_visits_per_officer_per_day: int = Field(default=4, ge=1)
    booking_horizon_days: int = Field(default=365, ge=1)
    # the station's local time (China Standard Time) decides what "today" is for bookings
    local_utc_offset_h: float = Field(default=8.0, ge=-14, le=14)

    def due_after(self, severity: Severity) -> timedelta:
        """How long a volunteer has for a visit of that severity."""
        seconds = {"high": self.due_high_s, "medium": self.due_medium_s, "low": self.due_low_s}
        return timedelta(seconds=seconds[severity])
