"""Settings of the notifier service; its own knobs are read with the `NOTIFIER_` prefix.

The defaults reach the development SMS gateway and mail sink (`python -m infra.dev_sinks
--sms-port 8110 --smtp-port 8025`), so notifications are visible with no outside account;
a real gateway URL and token and a real SMTP host are set here.
"""

import json
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from services.notifier.messages import Channel, Language, RecipientKind
from services.notifier.rules import BRIGADE, DUTY_DESK
from services.notifier.state import Contact
from shared import Port, ServiceSettings, settings_for

DEFAULT_CHANNELS: tuple[Channel, ...] = ("sms", "email", "log")
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
    # SMS gateway over HTTP: POST JSON to this URL (request format: services/notifier/channels.py)
    sms_gateway_url: str = "http://127.0.0.1:8110/sms"
    sms_gateway_token: SecretStr = SecretStr("")
    # e-mail over SMTP
    smtp_host: str = "127.0.0.1"
    smtp_port: Port = 8025
    smtp_sender: str = "notifier@station.local"
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
    signature_zh: str = "县公安局"
    signature_en: str = "County Police"

    # the configured desks: the hazardous-chemicals brigade and the station duty desk
    brigade_name: str = "危化品治安管理大队"
    brigade_phone: str = ""
    brigade_email: str = "hazchem-brigade@station.local"
    brigade_language: Language = "zh"
    duty_desk_name: str = "派出所值班台"
    duty_desk_phone: str = ""
    duty_desk_email: str = "duty-desk@station.local"
    duty_desk_language: Language = "zh"

    @field_validator("channels", "quiet_kinds", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _listed(value)

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
