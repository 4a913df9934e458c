"""The three channels: the log (always there), an SMS gateway over HTTP, e-mail over SMTP.

SMS gateway request (one per attempt):

    POST <NOTIFIER_SMS_GATEWAY_URL>
    Authorization: Bearer <NOTIFIER_SMS_GATEWAY_TOKEN>     (when a token is set)
    Idempotency-Key: <notification_id>                     (the same on every attempt)
    Content-Type: application/json; charset=utf-8

    {"to": "13800000001", "text": "【县公安局】…", "segments": 1,
     "notification_id": "…", "template": "over_capacity_officer", "language": "zh"}

Any 2xx is accepted (a gateway that honours the key answers a repeat as it answered the
first, without sending again); 408, 425, 429 and 5xx, a time-out or no connection are
retried; any other answer is a permanent failure. An e-mail carries the notification id
as its `Message-ID` (and `X-Idempotency-Key`), so a sink that honours it keeps one copy.
"""

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr
from typing import Protocol

import aiosmtplib
import httpx
import structlog

from services.notifier.domain import Delivered, Failed
from services.notifier.messages import Channel, Language, Template
from services.notifier.rules import normalise_email
from services.notifier.settings import NotifierSettings
from services.notifier.templates import NAME_CAP, clean_name

log = structlog.get_logger("station.notifier.channels")
RETRIED_STATUS = frozenset({408, 425, 429})
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True)
class Outgoing:
    """One message on one channel, as its attempt sends it."""

    notification_id: str
    channel: Channel
    address: str
    name: str | None
    title: str
    text: str
    segments: int
    template: Template
    language: Language


def masked(address: str) -> str:
    """An address as a log line may show it: `138******78`, `w***@***.org`, `王*`."""
    if "@" in address:
        local, _, domain_part = address.rpartition("@")
        return f"{local[:1]}***@***.{domain_part.rpartition('.')[2][:8]}"
    if _DIGITS.search(address):
        digits = [c for c in address if c.isdigit()]
        return "".join(digits[:3]) + "*" * max(0, len(digits) - 5) + "".join(digits[-2:])
    return address[:1] + "*" * min(3, max(1, len(address) - 1))


class Sender(Protocol):
    async def send(self, message: Outgoing) -> Delivered | Failed: ...


class LogChannel:
    """A line for the operator that a message was due: always delivered. It names the
    template, language and ids, and the recipient masked; never the text (the operator
    reads the words in the template, the person's details stay out of the logs)."""

    async def send(self, message: Outgoing) -> Delivered | Failed:
        log.info(
            "notification_logged",
            notification_id=message.notification_id,
            to=masked(message.name or message.address),
            template=message.template,
            language=message.language,
            segments=message.segments,
        )
        return Delivered()


@dataclass
class SmsGateway:
    """An HTTP SMS gateway (the request format is in this module's docstring)."""

    url: str
    token: str
    timeout_s: float
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    def _http(self) -> httpx.AsyncClient:
        # made on first use, inside the running loop, never at import or wiring time
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s)
        return self._client

    async def send(self, message: Outgoing) -> Delivered | Failed:
        headers = {"Idempotency-Key": message.notification_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {
            "to": message.address,
            "text": message.text,
            "segments": message.segments,
            "notification_id": message.notification_id,
            "template": message.template,
            "language": message.language,
        }
        try:
            answer = await self._http().post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            return Failed(f"sms gateway unreachable: {type(exc).__name__}: {exc}"[:300])
        if answer.is_success:
            return Delivered()
        error = f"sms gateway answered {answer.status_code}: {answer.text[:200]}"
        retried = answer.status_code in RETRIED_STATUS or answer.status_code >= 500
        return Failed(error, permanent=not retried)


@dataclass(frozen=True)
class SmtpMail:
    """E-mail through one SMTP server."""

    host: str
    port: int
    sender: str
    username: str
    password: str
    starttls: bool
    tls: bool
    timeout_s: float

    def compose(self, message: Outgoing) -> EmailMessage:
        """The e-mail; ValueError for an address or a name a header cannot carry as one
        recipient (a permanent failure)."""
        address = normalise_email(message.address)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = formataddr((clean_name(message.name or "", NAME_CAP * 2), address))
        mail["Subject"] = message.title
        mail["Message-ID"] = f"<{message.notification_id}@notifier.station>"
        mail["X-Idempotency-Key"] = message.notification_id
        mail["Content-Language"] = "zh-CN" if message.language == "zh" else "en"
        mail.set_content(message.text)
        return mail

    async def send(self, message: Outgoing) -> Delivered | Failed:
        try:
            mail = self.compose(message)
        except ValueError as exc:
            return Failed(f"not a single e-mail recipient: {str(exc)[:160]}", permanent=True)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                start_tls=self.starttls,
                use_tls=self.tls,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            return Failed(f"smtp refused the recipient: {codes}", permanent=min(codes) >= 500)
        except aiosmtplib.SMTPResponseException as exc:
            return Failed(f"smtp answered {exc.code}: {exc.message}"[:300], exc.code >= 500)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Failed(f"smtp server unreachable: {type(exc).__name__}: {exc}"[:300])
        return Delivered()


def channels_from(settings: NotifierSettings) -> dict[Channel, Sender]:
    """The real channels the settings configure: the log always, SMS with a gateway URL,
    e-mail with an SMTP host."""
    found: dict[Channel, Sender] = {"log": LogChannel()}
    if settings.sms_gateway_url:
        found["sms"] = SmsGateway(
            settings.sms_gateway_url,
            settings.sms_gateway_token.get_secret_value(),
            settings.send_timeout_s,
        )
    if settings.smtp_host:
        found["email"] = SmtpMail(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
            tls=settings.smtp_tls,
            timeout_s=settings.send_timeout_s,
        )
    return found
