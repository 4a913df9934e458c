"""Settings of the notifier service; its own knobs are read with the `NOTIFIER_` prefix.

No gateway and no SMTP host are set by default: then only the log channel is used (one
masked line per message), never a development sink in their place. A real gateway URL
and token and a real SMTP host are set here; the local stack's `dev` profile points them
at the development sinks (`infra/dev_sinks.py`) explicitly.
"""

import json
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from services.notifier.messages import Channel, Language, RecipientKind
from services.notifier.rules import BRIGADE, DUTY_DESK, normalise_email, normalise_phone
from services.notifier.state import Contact
from shared import Port, ServiceSettings, settings_for

DEFAULT_CHANNELS: tuple[Channel, ...] = ("sms", "email", "log")
SIGNATURE_MAX = 24
DEFAULT_QUIET_KINDS: tuple[RecipientKind, ...] = ("volunteer", "enterprise")


def _listed(value: Any) -> Any:
    """`sms,email,log` (or a JSON list) as a list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class NotifierSettings(ServiceSettings):
    """Kafka, MongoDB and HTTP settings, the channels, retries, quiet hours and desks."""

    model_config = settings_for("notifier")

    http_port: Port = 8104

    # every recipient is tried on each of these, in this order
    channels: Annotated[list[Channel], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CHANNELS), min_length=1
    )
    # SMS gateway over HTTP: POST JSON to this URL (request format: services/notifier/channels.py);
    # empty: no SMS are sent
    sms_gateway_url: str = ""
    sms_gateway_token: SecretStr = SecretStr("")
    # e-mail over SMTP; empty host: no e-mail is sent
    smtp_host: str = ""
    smtp_port: Port = 8025
    smtp_sender: str = "notifier@station.internal"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_tls: bool = False
    # one attempt on one channel is given up after this (then retried)
    send_timeout_s: float = Field(default=5.0, gt=0, le=60)

    # attempts per notification on a failing channel, waiting initial, 2x, 4x … at most cap
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_initial_s: float = Field(default=30.0, gt=0)
    retry_max_s: float = Field(default=900.0, gt=0)

    # each phone number or e-mail address is sent at most this many messages per window
    # (an hour; shorter only for tests), the rest held and summarised in one message
    max_per_recipient_per_hour: int = Field(default=10, ge=1, le=1000)
    rate_window_s: float = Field(default=3600.0, gt=0, le=86400)

    # non-urgent messages to these kinds of recipient wait for the end of quiet hours
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(7, 0)
    quiet_kinds: Annotated[list[RecipientKind], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_QUIET_KINDS)
    )
    timezone: str = "Asia/Shanghai"

    default_language: Language = "zh"
    # per recipient, `<kind>:<id>` → language, over what the facts say (JSON)
    languages: dict[str, Language] = Field(default_factory=dict)
    # every text starts with it (【县公安局】): short, so the words after it always fit
    signature_zh: str = Field(default="县公安局", min_length=1, max_length=SIGNATURE_MAX)
    signature_en: str = Field(default="County Police", min_length=1, max_length=SIGNATURE_MAX)

    # the configured desks: the hazardous-chemicals brigade and the station duty desk
    brigade_name: str = "危化品治安管理大队"
    brigade_phone: str = ""
    brigade_email: str = "hazchem-brigade@station.internal"
    brigade_language: Language = "zh"
    duty_desk_name: str = "派出所值班台"
    duty_desk_phone: str = ""
    duty_desk_email: str = "duty-desk@station.internal"
    duty_desk_language: Language = "zh"

    @field_validator("channels", "quiet_kinds", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _listed(value)

    @field_validator("brigade_phone", "duty_desk_phone")
    @classmethod
    def _desk_phone(cls, value: str) -> str:
        return normalise_phone(value) if value else value

    @field_validator("brigade_email", "duty_desk_email")
    @classmethod
    def _desk_email(cls, value: str) -> str:
        return normalise_email(value) if value else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def desks(self) -> dict[str, Contact]:
        """The configured desks as contacts, by desk id."""
        return {
            BRIGADE: Contact(
                name=self.brigade_name,
                phone=self.brigade_phone or None,
                email=self.brigade_email or None,
                language=self.brigade_language,
            ),
            DUTY_DESK: Contact(
                name=self.duty_desk_name,
                phone=self.duty_desk_phone or None,
                email=self.duty_desk_email or None,
                language=self.duty_desk_language,
            ),
        }
