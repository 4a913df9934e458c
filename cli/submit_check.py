"""Reading a commands file and checking every command against the services' models.

A file is JSON or YAML: one command, a list of them, or (YAML) several documents. A
command is a CloudEvent without the attributes the CLI fills in:

    type: enterprise.declare_inventory
    data: {enterprise_id: ent-leather-01, cas: 78-93-3, movement: purchase, quantity_kg: 10000}

`id` (default: a new UUID), `correlationid` (default: the id: each command starts its
own story), `source` (default `/intake/cli`), `time` (default: now) and `subject`
(default: the model's subject field) may be given. Every problem of the file is found
before anything is sent, each with its line and field.
"""

import difflib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared._kit.envelope import CloudEvent
from shared._kit.messages import Command

COMMAND_SERVICES = ("mediation", "enterprise", "outreach")
SOURCE = "/intake/cli"
ENVELOPE_KEYS = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based; 0 when the file itself is at fault
    where: str  # `commands[2].data.quantity_kg`
    message: str


class SubmitError(Exception):
    """The file is refused as a whole: `problems` says where and what, by line and field."""

    def __init__(self, path: Path | str, problems: Sequence[Problem]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(
            "\n".join(f"{self.path}:{p.line}: {p.where}: {p.message}" for p in self.problems)
        )


def command_models() -> dict[str, type[Command]]:
    """Every command type the services take, by CloudEvents type."""
    import services.enterprise.messages
    import services.mediation.messages
    import services.outreach.commands  # noqa: F401 - the imports register the classes

    found: dict[str, type[Command]] = {}
    todo = list(Command.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.type and cls.__module__.startswith("services.") and cls.prefix() in COMMAND_SERVICES:
            found[cls.type] = cls
    return found


def _lines(root: yaml.Node | None, path: tuple[str | int, ...]) -> int:
    """The 1-based line of the deepest node along `path` that the file has."""
    node, line = root, 1
    for step in path:
        if node is None:
            break
        line = node.start_mark.line + 1
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    nxt = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            nxt = node.value[step] if 0 <= step < len(node.value) else None
        node = nxt
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _read(path: Path) -> tuple[list[Any], list[yaml.Node | None]]:
    """The commands of the file, and for each its YAML node (for line numbers)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            docs: list[Any] = [json.loads(text)]
        except json.JSONDecodeError as exc:
            raise SubmitError(path, [Problem(exc.lineno, "file", f"not JSON: {exc.msg}")]) from None
    else:
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            raise SubmitError(path, [Problem(line, "file", f"not YAML: {exc}")]) from None
    try:
        nodes: list[yaml.Node | None] = [n for n in yaml.compose_all(text) if n is not None]
    except yaml.YAMLError:  # valid JSON that PyYAML cannot read: lines are then unknown
        nodes = [None] * len(docs)
    commands: list[Any] = []
    owners: list[yaml.Node | None] = []
    for doc, node in zip(docs, nodes, strict=False):
        wrapped = isinstance(doc, Mapping) and isinstance(doc.get("commands"), list)
        items = doc["commands"] if wrapped else doc
        owner = _child(node, "commands") if wrapped else node
        if isinstance(items, list):
            commands.extend(items)
            owners.extend(_child(owner, i) for i in range(len(items)))
        else:
            commands.append(items)
            owners.append(owner)
    return commands, owners


def _child(node: yaml.Node | None, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if getattr(k, "value", None) == step), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        child: yaml.Node = node.value[step]
        return child
    return None


def check(
    path: Path, raw: Any, node: yaml.Node | None, index: int, models: Mapping[str, type[Command]]
) -> Iterator[Problem | CloudEvent]:
    """Problems with one command, or the CloudEvent ready to send."""
    where = f"commands[{index}]"
    if not isinstance(raw, Mapping):
        yield Problem(_lines(node, ()), where, "a command must be a mapping with type and data")
        return
    event_type = raw.get("type")
    model = models.get(str(event_type))
    if model is None:
        close = difflib.get_close_matches(str(event_type), list(models), n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; one of {', '.join(sorted(models))}"
        yield Problem(
            _lines(node, ("type",)), f"{where}.type", f"unknown command type {event_type!r}{hint}"
        )
        return
    data = raw.get("data")
    if not isinstance(data, Mapping):
        yield Problem(_lines(node, ("data",)), f"{where}.data", "data must be a mapping")
        return
    try:
        message = model.model_validate(dict(data))
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(map(str, loc)) or "data"
            yield Problem(_lines(node, ("data", *loc)), f"{where}.data.{field}", error["msg"])
        return
    command_id = str(raw.get("id") or uuid.uuid4())
    envelope = {
        **{k: v for k, v in raw.items() if k != "data"},
        "id": command_id,
        "source": raw.get("source") or SOURCE,
        "subject": raw.get("subject") or message.subject_value(),
        "time": raw.get("time") or datetime.now().astimezone().isoformat(),
        "correlationid": raw.get("correlationid") or command_id,
        "data": dict(data),
    }
    try:
        yield CloudEvent.model_validate(envelope)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            yield Problem(_lines(node, loc), f"{where}.{'.'.join(map(str, loc))}", error["msg"])


def load_commands(path: Path | str) -> list[CloudEvent]:
    """Every command of the file as a CloudEvent ready to send, or SubmitError naming every
    problem (line and field) when any command is invalid: a file is taken whole or not."""
    path = Path(path)
    try:
        commands, nodes = _read(path)
    except OSError as exc:
        raise SubmitError(path, [Problem(0, "file", str(exc))]) from None
    if not commands:
        raise SubmitError(path, [Problem(0, "file", "no commands in the file")])
    models = command_models()
    problems: list[Problem] = []
    ready: list[CloudEvent] = []
    seen: dict[str, int] = {}
    for index, (raw, node) in enumerate(zip(commands, nodes, strict=True)):
        for found in check(path, raw, node, index, models):
            if isinstance(found, Problem):
                problems.append(found)
            elif found.id in seen:
                problems.append(
                    Problem(
                        _lines(node, ("id",)),
                        f"commands[{index}].id",
                        f"id {found.id!r} already used by commands[{seen[found.id]}]",
                    )
                )
            else:
                seen[found.id] = index
                ready.append(found)
    if problems:
        raise SubmitError(path, problems)
    return ready
