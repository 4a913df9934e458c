"""Development SMS gateway and mail sink: notifications visible with no outside account.

    python -m infra.dev_sinks --sms-port 8110 --smtp-port 8025 [--host 127.0.0.1] [--token T]

For development only: the local stack starts them in its `dev` profile
(`STATION_PROFILE=dev`, `make stack-dev`), compose in its `dev` profile, and the
notifier sends to them only when its gateway and SMTP settings name them. They listen on
loopback (another host is refused unless `--in-container`, where compose publishes the
ports on the host's loopback only).

The SMS gateway takes the notifier's requests (`POST /sms`, format in
services/notifier/channels.py, a body of at most 64 KiB, else 413) and the mail sink its
e-mails over SMTP (at most 1 MiB each); each message received is one JSON line on
stdout (`sms_received`, `mail_received`), phone numbers and addresses masked. Both
honour the idempotency key (`Idempotency-Key` header; an e-mail's `Message-ID`): a
repeat is answered as the first was and logged `duplicate: true`, and `GET /messages`
lists each message once, masked. `GET /healthz` answers when the gateway is up. Only
when `DEV_SINKS_FAULTS=1` (the tests set it) does `POST /faults {"fail_first": 3,
"status": 500}` make it refuse the first attempts of each key (`{"always": true}`: every
attempt), to see retries. Tests use the same classes in-process.
"""

import argparse
import asyncio
import email
import email.policy
import ipaddress
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from shared._kit.masking import mask_text

Log = Callable[[dict[str, Any]], None]
Reply = tuple[int, dict[str, Any]]
# phone numbers in any spelling: 7 or more digits, with the separators people write
_ADDRESS = re.compile(r"[^\s@<>,;:\"]+@[^\s@<>,;:\"]+")
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
}
MAX_BODY = 64 * 1024
MAX_MAIL = 1024 * 1024
MAX_HEADERS = 64
MAX_LINE = 8 * 1024
FAULTS_FLAG = "DEV_SINKS_FAULTS"


def _masked_address(found: re.Match[str]) -> str:
    local, _, domain = found.group().rpartition("@")
    return f"{local[:1]}***@{domain}"


def mask(text: str) -> str:
    """Phone and ID numbers masked as the services' logs mask them (every spelling), e-mail
    addresses with all but the first letter of their local part."""
    return mask_text(_ADDRESS.sub(_masked_address, text))


def masked_message(message: dict[str, Any]) -> dict[str, Any]:
    """A kept message as `GET /messages` lists it."""
    shown = dict(message)
    for name in ("to", "text", "from"):
        value = shown.get(name)
        if isinstance(value, str):
            shown[name] = mask(value)
        elif isinstance(value, list):
            shown[name] = [mask(str(v)) for v in value]
    return shown


def faults_enabled() -> bool:
    """Whether `POST /faults` is honoured: only when the tests set DEV_SINKS_FAULTS=1."""
    return os.environ.get(FAULTS_FLAG) == "1"


def print_line(fields: dict[str, Any]) -> None:
    """One JSON line on stdout, like the services' logs."""
    line = {"timestamp": datetime.now(UTC).isoformat(), "service": "dev_sinks", **fields}
    print(json.dumps(line, ensure_ascii=False), flush=True)


@dataclass
class SmsGateway:
    """An SMS gateway that delivers nothing: it keeps and logs what it is given."""

    token: str = ""
    log: Log = print_line
    # `POST /faults` answers 404 unless this is set (tests only)
    faults: bool = False
    # each message once (by idempotency key), in the order they first arrived
    messages: list[dict[str, Any]] = field(default_factory=list)
    # every request, repeats and refusals included, with its arrival (epoch seconds)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 500
    always_fail: bool = False
    # awaited after a message is kept and before it is answered (tests hold it there)
    before_reply: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    _by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["to"] == phone]

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "GET" and path == "/healthz":
            return 200, {"status": "ok"}
        if method == "GET" and path == "/messages":
            return 200, {"messages": [masked_message(m) for m in self.messages]}
        if method == "POST" and path == "/faults" and self.faults:
            try:
                faults = json.loads(body or b"{}")
            except ValueError:
                return 400, {"error": "expected JSON"}
            self.fail_first = int(faults.get("fail_first", 0))
            self.fail_status = int(faults.get("status", 500))
            self.always_fail = bool(faults.get("always", False))
            return 200, {"fail_first": self.fail_first, "always": self.always_fail}
        if method == "POST" and path == "/sms":
            return await self._sms(headers, body)
        return 404, {"error": f"no {method} {path}"}

    async def _sms(self, headers: dict[str, str], body: bytes) -> Reply:
        received_at = time.time()
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            self.log({"event": "sms_unauthorized"})
            return 401, {"error": "bad or missing token"}
        try:
            request = json.loads(body)
            to, text = str(request["to"]), str(request["text"])
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "expected JSON with `to` and `text`"}
        key = headers.get("idempotency-key") or uuid.uuid4().hex
        attempt = 1 + sum(1 for r in self.requests if r["key"] == key)
        seen = {"key": key, "to": to, "attempt": attempt, "received_at": received_at}
        self.requests.append(seen)
        if self.always_fail or attempt <= self.fail_first:
            seen["status"] = self.fail_status
            self.log({"event": "sms_refused", "key": key, "attempt": attempt, "to": mask(to)})
            return self.fail_status, {"error": "refused on purpose (faults)"}
        first = self._by_key.get(key)
        duplicate = first is not None
        if first is None:
            first = {
                "message_id": uuid.uuid4().hex,
                "key": key,
                "to": to,
                "text": text,
                "segments": request.get("segments"),
                "template": request.get("template"),
                "language": request.get("language"),
                "received_at": received_at,
            }
            self._by_key[key] = first
            self.messages.append(first)
        seen["status"] = 200
        self.log(
            {
                "event": "sms_received",
                "to": mask(to),
                "text": mask(text),
                "segments": first["segments"],
                "idempotency_key": key,
                "message_id": first["message_id"],
                "duplicate": duplicate,
            }
        )
        if self.before_reply is not None:
            await self.before_reply(first)
        return 200, {"message_id": first["message_id"], "duplicate": duplicate}


async def _http_connection(
    gateway: SmsGateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """HTTP/1.1 with keep-alive and Content-Length bodies: what the notifier's client and
    an operator's curl send. Lines, headers and bodies are bounded: a body past MAX_BODY
    is answered 413 without being read, and the connection closed."""
    try:
        while line := await reader.readline():
            method, target, _version = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                if len(headers) >= MAX_HEADERS:
                    await _answer(writer, 431, {"error": f"more than {MAX_HEADERS} headers"})
                    return
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if length < 0 or length > MAX_BODY:
                await _answer(writer, 413, {"error": f"a body has at most {MAX_BODY} bytes"})
                return
            body = await reader.readexactly(length) if length else b""
            status, payload = await gateway.handle(method, target.split("?")[0], headers, body)
            await _answer(writer, status, payload)
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _answer(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data)
    await writer.drain()


async def serve_sms(gateway: SmsGateway, host: str, port: int) -> asyncio.Server:
    """The gateway listening on `host:port` (close the server to stop it)."""
    return await asyncio.start_server(
        lambda r, w: _http_connection(gateway, r, w),
        host,
        port,
        reuse_address=True,
        limit=MAX_LINE,
    )


@dataclass
class MailSink:
    """An SMTP server that delivers nothing: it keeps and logs each e-mail once."""

    log: Log = print_line
    messages: list[dict[str, Any]] = field(default_factory=list)
    received: int = 0

    def to(self, address: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if address in m["to"]]

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.received += 1
        raw = envelope.original_content or envelope.content or b""
        parsed = email.message_from_bytes(
            raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default
        )
        message_id = str(parsed.get("Message-ID") or uuid.uuid4().hex)
        body = parsed.get_body(("plain",)) if isinstance(parsed, EmailMessage) else None
        text = body.get_content().strip() if body is not None else ""
        duplicate = any(m["message_id"] == message_id for m in self.messages)
        if not duplicate:
            self.messages.append(
                {
                    "message_id": message_id,
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "subject": str(parsed.get("Subject") or ""),
                    "text": text,
                    "received_at": time.time(),
                }
            )
        self.log(
            {
                "event": "mail_received",
                "from": envelope.mail_from,
                "to": [mask(str(to)) for to in envelope.rcpt_tos],
                "subject": str(parsed.get("Subject") or ""),
                "text": mask(text),
                "message_id": message_id,
                "duplicate": duplicate,
            }
        )
        return "250 OK"


async def serve_smtp(sink: MailSink, host: str, port: int) -> asyncio.Server:
    """The mail sink listening on `host:port` (close the server to stop it)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            sink,
            hostname="dev-mail-sink",
            enable_SMTPUTF8=True,
            decode_data=False,
            data_size_limit=MAX_MAIL,
        ),
        host,
        port,
        reuse_address=True,
    )


async def run(host: str, sms_port: int, smtp_port: int, token: str) -> None:
    """Serve both until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sms = await serve_sms(SmsGateway(token=token, faults=faults_enabled()), host, sms_port)
    smtp = await serve_smtp(MailSink(), host, smtp_port)
    print_line(
        {
            "event": "dev_sinks_ready",
            "sms_url": f"http://{host}:{sms_port}/sms",
            "smtp": f"{host}:{smtp_port}",
            "token_required": bool(token),
            "faults": faults_enabled(),
        }
    )
    await stop.wait()
    for server in (sms, smtp):
        server.close()
        await server.wait_closed()
    print_line({"event": "dev_sinks_stopped"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.dev_sinks", description=__doc__)
    parser.add_argument("--sms-port", type=int, default=8110)
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default="", help="require `Authorization: Bearer <token>`")
    parser.add_argument(
        "--in-container",
        action="store_true",
        help="allow a host other than loopback (inside a container whose ports the host "
        "publishes on its loopback only)",
    )
    args = parser.parse_args(argv)
    if not args.in_container and not is_loopback(args.host):
        print_line(
            {
                "event": "dev_sinks_failed",
                "reason": f"{args.host} is not loopback: the development sinks listen on "
                "loopback only (--in-container inside compose)",
            }
        )
        return 2
    try:
        asyncio.run(run(args.host, args.sms_port, args.smtp_port, args.token))
    except OSError as exc:
        print_line({"event": "dev_sinks_failed", "reason": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
