"""A service's public contract, read from its models: AsyncAPI 3.0 and a Markdown section.

What a service reads comes from its wiring (the handlers' message types and their
topics); what it publishes from its contract module (the `Fact` classes of its own
prefix, plus `command_rejected` when it takes commands); its rejection reasons from the
module's `Reason` constants. A fact with personal fields (`personal.py`) is listed on both
topics it goes to, its personal fields named (`x-personal-fields`). `python -m infra docs`
writes the results under `docs/`; `--check` fails when what is committed is stale.
"""

import inspect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared._kit.clock import SystemClock
from shared._kit.envelope import CONTENT_TYPE
from shared._kit.memory import MemoryDatabase
from shared._kit.messages import Command, CommandRejected, Fact, Message, Reason, TimerFailed
from shared._kit.personal import dotted, personal_paths
from shared._kit.pipeline import REJECTED, TIMER_FAILED
from shared._kit.runtime import Runtime
from shared._kit.settings import ServiceSettings

PLATFORM_REASONS: Final = {
    "invalid_data": "the data does not match the command's schema (errors name each field)",
    "unknown_command_type": "the type is not a command of this service",
}
SCHEMA_REF: Final = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Entry:
    """One message type on one topic, as integrators see it."""

    event_type: str
    model: type[BaseModel]
    topic: str
    kind: Literal["command", "fact"]
    subject: str | None

    @property
    def name(self) -> str:
        return self.event_type.split(".", 1)[1]

    @property
    def summary(self) -> str:
        return inspect.getdoc(self.model) or ""

    @property
    def personal(self) -> list[str]:
        """The personal fields of a fact this service states (`members[].name`)."""
        if self.kind != "fact" or getattr(self.model, "reads_private", False):
            return []
        return [dotted(p) for p in personal_paths(self.model)]


@dataclass
class ServiceContract:
    service: str
    intake: str
    events: str
    private: str = ""
    commands: list[Entry] = field(default_factory=list)
    facts: list[Entry] = field(default_factory=list)
    reads: list[Entry] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


def offline_runtime(
    service: str, settings_type: type[ServiceSettings], **overrides: Any
) -> Runtime[Any]:
    """A runtime on an in-memory database, with settings read from arguments only."""
    settings = settings_type.model_validate(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "MONGODB_URL": "mongodb://mongo/",
            "topic_prefix": service,
            **overrides,
        }
    )
    return Runtime(
        service=service,
        settings=settings,
        db=MemoryDatabase(service),  # type: ignore[arg-type]
        clock=SystemClock(),
        timer_owner="offline",
    )


def describe(runtime: Runtime[Any], module: ModuleType | None) -> ServiceContract:
    """The contract of a wired service: what it reads, what it publishes, why it refuses."""
    name = runtime.service
    contract = ServiceContract(name, runtime.intake, runtime.events, runtime.private)
    for topic, routes in runtime.routes.items():
        for route in routes.values():
            model = route.model
            kind: Literal["command", "fact"] = "command" if issubclass(model, Command) else "fact"
            entry = Entry(model.type, model, topic, kind, model.subject_field)
            if kind == "command":
                contract.commands.append(entry)
            else:
                contract.reads.append(entry)
    own_facts = [
        m for m in _classes(module) if issubclass(m, Fact) and m.type and m.prefix() == name
    ]
    contract.facts = [Entry(m.type, m, runtime.events, "fact", m.subject_field) for m in own_facts]
    if runtime.timer_routes:
        contract.facts.append(
            Entry(f"{name}.{TIMER_FAILED}", TimerFailed, runtime.events, "fact", None)
        )
    if contract.commands:
        contract.facts.append(
            Entry(f"{name}.{REJECTED}", CommandRejected, runtime.events, "fact", None)
        )
        contract.reasons = dict(PLATFORM_REASONS)
        found = vars(module).values() if module is not None else ()
        contract.reasons |= {r.code: r.meaning for r in found if isinstance(r, Reason)}
    for entries in (contract.commands, contract.facts, contract.reads):
        entries.sort(key=lambda e: e.event_type)
    return contract


def _classes(module: ModuleType | None) -> Iterable[type[Message]]:
    if module is None:
        return
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Message)
            and value.__module__ == module.__name__
        ):
            yield value


def schemas(entries: Iterable[Entry]) -> tuple[dict[str, str], dict[str, Any]]:
    """JSON Schemas of the entries' payloads: the ref of each, and every definition."""
    modes: dict[type[BaseModel], JsonSchemaMode] = {}
    for e in entries:
        modes.setdefault(e.model, "validation" if e.kind == "command" else "serialization")
    keys, defs = models_json_schema(list(modes.items()), ref_template=SCHEMA_REF)
    refs = {e.event_type: keys[(e.model, modes[e.model])]["$ref"] for e in entries}
    return refs, defs.get("$defs", {})


def _envelope(entry: Entry, data_ref: str) -> dict[str, Any]:
    subject = (
        f"the `{entry.subject}` of the data; also the Kafka key"
        if entry.subject
        else "the aggregate id; also the Kafka key"
    )
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "minLength": 1},
            "source": {"type": "string", "minLength": 1},
            "type": {"const": entry.event_type},
            "subject": {"type": "string", "description": subject},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "correlationid": {"type": "string"},
            "causationid": {"type": "string"},
            "data": {"$ref": data_ref},
        },
    }


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_")


def asyncapi(contract: ServiceContract) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service, payloads included."""
    entries = [*contract.commands, *contract.reads, *contract.facts]
    refs, defs = schemas(entries)
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for e in entries:
        message: dict[str, Any] = {
            "name": e.event_type,
            "title": e.name,
            "summary": e.summary.split("\n\n")[0],
            "contentType": CONTENT_TYPE,
            "payload": _envelope(e, refs[e.event_type]),
            "bindings": {
                "kafka": {"key": {"type": "string", "description": e.subject or "subject"}}
            },
        }
        if e.personal:
            message["description"] = (
                f"Published twice with the same id, type and subject: whole on "
                f"`{contract.private}`, and on `{e.topic}` without its personal fields "
                f"({', '.join(e.personal)})."
            )
            message["x-personal-fields"] = e.personal
        messages[e.event_type] = message
        channel = channels.setdefault(_channel_id(e.topic), {"address": e.topic, "messages": {}})
        channel["messages"][e.name] = {"$ref": f"#/components/messages/{e.event_type}"}
    private = [
        Entry(e.event_type, e.model, contract.private, "fact", e.subject)
        for e in contract.facts
        if e.personal
    ]
    for e in private:
        channel = channels.setdefault(
            _channel_id(e.topic),
            {
                "address": e.topic,
                "description": "the whole of the facts with personal fields, for the "
                "consumers allowed to read them",
                "messages": {},
            },
        )
        channel["messages"][e.name] = {"$ref": f"#/components/messages/{e.event_type}"}
    operations: dict[str, Any] = {}
    for action, group in (
        ("receive", [*contract.commands, *contract.reads]),
        ("send", [*contract.facts, *private]),
    ):
        for topic in sorted({e.topic for e in group}):
            cid = _channel_id(topic)
            operations[f"{action}_{cid}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{cid}"},
                "messages": [
                    {"$ref": f"#/channels/{cid}/messages/{e.name}"}
                    for e in group
                    if e.topic == topic
                ],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"{contract.service} service",
            "version": "1.0.0",
            "description": (
                f"What the {contract.service} service reads and publishes on Kafka: CloudEvents 1.0"
                " in structured JSON mode, the subject as the Kafka key. Generated from the"
                " service's models; see docs/contract.md."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": dict(sorted(channels.items())),
        "operations": operations,
        "components": {
            "messages": dict(sorted(messages.items())),
            "schemas": dict(sorted(defs.items())),
        },
    }


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
