"""The one place that turns an event, or a service's log line, into a short coloured line.

`station tail` renders `Event`s read from the topics; `make stack` on a terminal renders
the services' JSON log lines. Both look the same:

    09:30:00 enterprise  发出  超量预警  ent-leather-01  超出 10,000 kg 丁酮  ·3f2a1c9b

(time, service, what happened to the event, its type, its subject, its key fact, a short
correlation id); refusals and dead letters stand out in red, warnings in yellow.

Whatever came from an event or a log line is text to show, never something the terminal
obeys: `shown` drops control characters (an ESC sequence recolours, moves the cursor or
retitles the window; bidi controls reorder what is read) and `markup_shown` also escapes
Rich markup, for the few places that print a string Rich would parse. Pieces appended to
a `Text` are never parsed as markup.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.text import Text

from cli.events import Event
from cli.facts import type_name
from cli.i18n import Lang, labels, t
from cli.keyfacts import key_fact

labels(
    {
        "render.emitted": {"zh": "发出", "en": "emitted"},
        "render.received": {"zh": "收到", "en": "received"},
        "render.command": {"zh": "指令", "en": "command"},
        "render.rejected": {"zh": "拒绝", "en": "rejected"},
        "render.dead_lettered": {"zh": "死信", "en": "dead-lettered"},
        "render.unreadable": {"zh": "无法解析", "en": "unreadable"},
        "render.duplicate": {"zh": "重复", "en": "duplicate"},
        "render.moot": {"zh": "无效", "en": "moot"},
    }
)

SERVICE_STYLES = {
    "mediation": "magenta",
    "enterprise": "yellow",
    "outreach": "green",
    "notifier": "cyan",
    "stack": "blue",
}
VERB_STYLES = {
    "emitted": "bold",
    "received": "dim",
    "command": "bold blue",
    "rejected": "bold red",
    "dead_lettered": "bold white on red",
    "unreadable": "bold red",
    "moot": "dim",
}
TYPE_STYLES = {"rejected": "red", "dead_lettered": "red", "unreadable": "red"}
# facts an operator must not miss, even in a fast stream
LOUD_TYPES = {
    "enterprise.over_capacity_detected": "bold yellow",
    "enterprise.redistribution_escalated": "bold red",
    "enterprise.transfer_declined": "yellow",
    "mediation.case_escalated": "bold red",
    "mediation.session_overdue": "yellow",
    "mediation.obligation_overdue": "yellow",
    "outreach.coverage_gap_detected": "yellow",
    "outreach.visit_overdue": "yellow",
    "outreach.fraud_dissuaded": "bold green",
    "mediation.case_resolved": "bold green",
    "enterprise.alert_resolved": "bold green",
    "notifier.notification_failed": "bold red",
}
SERVICE_WIDTH = 10
MAX_MESSAGE = 160
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHORT_ID = 8


# C0 and C1 controls, DEL, and the bidi marks, embeddings, overrides and isolates
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = str.maketrans("\t\n\r\v\f", "     ")


def shown(value: object) -> str:
    """`value` as text a terminal shows and does not obey: line breaks and tabs as
    spaces (one event, one line), every other control character dropped."""
    return _CONTROLS.sub("", str(value).translate(_SPACES))


def markup_shown(value: object) -> str:
    """`shown`, with Rich markup escaped: for a string printed as markup."""
    return escape(shown(value))


def json_shown(line: str) -> str:
    """A line of JSON with C1 and bidi controls escaped (`\\u202e`): `json.dumps`
    escapes only C0 when it keeps non-ASCII text readable; the value is the same."""
    return _CONTROLS.sub(lambda found: f"\\u{ord(found.group()):04x}", line)


def short(correlation_id: str | None) -> str:
    """The first 8 characters of a correlation id: enough to tell stories apart by eye."""
    return (correlation_id or "")[:SHORT_ID]


def brief(subject: str) -> str:
    """A minted id (a UUID: alerts, transfers, cases) by its first 8 characters."""
    return f"{subject[:SHORT_ID]}…" if _UUID.fullmatch(subject) else subject


def clock(at: datetime | str | None) -> str:
    """`HH:MM:SS` in the machine's local time zone."""
    if isinstance(at, str):
        text = at
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text[11:19]
    if at is None:
        return " " * 8
    return at.astimezone().strftime("%H:%M:%S")


def line(
    *,
    at: datetime | str | None,
    service: str,
    verb: str,
    event_type: str,
    subject: str | None,
    fact: str,
    correlation_id: str | None,
    lang: Lang,
) -> Text:
    """The shared layout of one event line; `verb` is a `render.*` label key's suffix."""
    text = Text(no_wrap=False)
    text.append(shown(clock(at)), style="dim")
    text.append(" ")
    text.append(f"{shown(service):<{SERVICE_WIDTH}}", style=SERVICE_STYLES.get(service, "white"))
    text.append(" ")
    text.append(t(f"render.{verb}", lang), style=VERB_STYLES.get(verb, ""))
    text.append("  ")
    style = TYPE_STYLES.get(verb) or LOUD_TYPES.get(event_type, "")
    if verb == "rejected":
        text.append(t("render.rejected", lang) + " ", style=style)
    text.append(shown(type_name(event_type, lang)), style=style or "bold")
    if subject:
        text.append(f"  {shown(brief(subject))}", style="cyan dim")
    if fact:
        text.append(f"  {shown(fact)}", style="")
    if correlation_id:
        text.append(f"  ·{shown(short(correlation_id))}", style="dim")
    return text


def service_of(event: Event) -> str:
    """The service an event belongs to: its type's prefix (topics may carry a prefix)."""
    owner = event.type.partition(".")[0]
    return owner if event.type != "?" and owner in SERVICE_STYLES else event.service


def verb_of(event: Event) -> str:
    if event.problem:
        return "unreadable"
    if event.topic.endswith(".dlq"):
        return "dead_lettered"
    if event.topic.endswith(".intake"):
        return "command"
    if event.type.endswith(".command_rejected"):
        return "rejected"
    return "emitted"


def event_line(event: Event, lang: Lang = "zh") -> Text:
    """One event read from a topic, as one short coloured line."""
    verb = verb_of(event)
    if verb == "unreadable":
        return line(
            at=event.timestamp,
            service=event.service,
            verb=verb,
            event_type=event.topic,
            subject=f"{event.partition}@{event.offset}",
            fact=event.problem or "",
            correlation_id=None,
            lang=lang,
        )
    return line(
        at=event.at,
        service=service_of(event),
        verb=verb,
        event_type=event.type,
        subject=event.subject,
        fact=key_fact(event.type, event.data, lang),
        correlation_id=event.correlation,
        lang=lang,
    )


def _other_line(record: Mapping[str, Any], lang: Lang) -> Text:
    """A log line that is not about one event: its name and a few fields, by level."""
    level = str(record.get("level", "info"))
    style = {"warning": "yellow", "error": "bold red", "critical": "bold white on red"}.get(
        level, "dim"
    )
    text = Text()
    text.append(shown(clock(record.get("timestamp"))), style="dim")
    text.append(" ")
    service = shown(record.get("service", "?"))
    text.append(f"{service:<{SERVICE_WIDTH}}", style=SERVICE_STYLES.get(service, "white"))
    text.append(" ")
    message = shown(record.get("event", "?"))[:MAX_MESSAGE]
    text.append(message, style=style if level != "info" else "")
    skip = {"event", "level", "timestamp", "service", "logger"}
    extras = " ".join(f"{k}={v}" for k, v in record.items() if k not in skip)
    if extras:
        text.append("  " + shown(extras[:200]), style=style)
    return text


def log_line(
    record: Mapping[str, Any], lang: Lang = "zh", data: Mapping[str, Any] | None = None
) -> Text:
    """One service log record (a parsed JSON line) as one short coloured line.

    `data` is the event's data when the caller knows it (the log line carries only ids);
    without it the line has no key fact, except for refusals, whose reasons are logged."""
    name = record.get("event")
    if name in {"event_received", "event_emitted"} and record.get("event_type"):
        event_type = str(record["event_type"])
        verb = "emitted" if name == "event_emitted" else "received"
        if record.get("duplicate"):
            verb = "moot"
        return line(
            at=record.get("timestamp"),
            service=str(record.get("service", "?")),
            verb=verb,
            event_type=event_type,
            subject=record.get("subject"),
            fact=key_fact(event_type, data or {}, lang),
            correlation_id=record.get("correlation_id") or record.get("event_id"),
            lang=lang,
        )
    if name in {"command_rejected", "event_moot"} and record.get("event_type"):
        reason = {"reason": record.get("reason"), "errors": record.get("errors") or []}
        errors = reason["errors"]
        fact = f"{reason['reason']}" + (f": {errors[0]}" if errors else "")
        return line(
            at=record.get("timestamp"),
            service=str(record.get("service", "?")),
            verb="rejected" if name == "command_rejected" else "moot",
            event_type=str(record["event_type"]),
            subject=record.get("subject"),
            fact=fact[:160],
            correlation_id=record.get("correlation_id") or record.get("event_id"),
            lang=lang,
        )
    if name in {"dead_lettered", "undeliverable"}:
        return line(
            at=record.get("timestamp"),
            service=str(record.get("service", "?")),
            verb="dead_lettered",
            event_type=str(record.get("topic", "?")),
            subject=f"{record.get('partition')}@{record.get('offset')}",
            fact=f"{record.get('reason', '')}: {record.get('error', '')}"[:160],
            correlation_id=None,
            lang=lang,
        )
    return _other_line(record, lang)
