"""Reading a commands file and checking every command against the services' models.

A file is JSON or YAML: one command, a list of them, or (YAML) several documents. A
command is a CloudEvent without the attributes the CLI fills in:

    type: enterprise.declare_inventory
    data: {enterprise_id: ent-leather-01, cas: 78-93-3, movement: purchase, quantity_kg: 10000}

`id` (default: a new UUID), `correlationid` (default: the id: each command starts its
own story), `source` (default `/intake/cli`), `time` (default: now) and `subject`
(default: the model's subject field) may be given. Every problem of the file is found
before anything is sent, each with its line and field.

What the file may hold is bounded before it is parsed: at most `MAX_FILE_BYTES`, YAML
without anchors, aliases or deep nesting (a 607-byte file of aliases expands to 110 MB),
and no key that neither the envelope nor the command's model declares (a typo in an
optional field would otherwise be dropped in silence by the service).
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
from pydantic import BaseModel, ValidationError

from shared._kit.envelope import CloudEvent
from shared._kit.messages import Command

COMMAND_SERVICES = ("mediation", "enterprise", "outreach")
SOURCE = "/intake/cli"
ENVELOPE_KEYS = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}
COMMAND_KEYS = ENVELOPE_KEYS | {"correlationid", "causationid", "data"}
# a day's commands of a busy station fit in far less
MAX_FILE_BYTES = 1024 * 1024
# deeper than any command's model goes (a command nests four levels at most)
MAX_DEPTH = 32


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


def _text(path: Path) -> str:
    """The file's text, refused past `MAX_FILE_BYTES` without reading further."""
    with path.open("rb") as file:
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise SubmitError(
            path, [Problem(0, "file", f"larger than {MAX_FILE_BYTES} bytes: split it")]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmitError(path, [Problem(0, "file", f"not UTF-8: {exc.reason}")]) from None


def _plain_yaml(path: Path, text: str) -> None:
    """Refuses anchors, aliases and nesting past `MAX_DEPTH`, from the event stream (which
    never expands an alias), before anything builds the documents."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            refusal = _refusal(event, depth)
            if refusal is not None:
                mark = event.start_mark
                line = mark.line + 1 if mark is not None else 0
                raise SubmitError(path, [Problem(line, "file", refusal)])
    except yaml.YAMLError as exc:
        raise SubmitError(path, [_syntax(exc)]) from None


def _refusal(event: yaml.Event, depth: int) -> str | None:
    if isinstance(event, yaml.AliasEvent):
        return f"YAML alias *{event.anchor} not accepted: write the value out"
    if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
        return f"YAML anchor &{event.anchor} not accepted: write the value out"
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels"
    return None


def _syntax(exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    return Problem(mark.line + 1 if mark is not None else 0, "file", f"not YAML: {exc}")


def _deeper_than(value: Any, limit: int) -> bool:
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def _documents(path: Path, text: str) -> list[Any]:
    """The file's documents: one for JSON, any number for YAML (empty ones left out)."""
    too_deep = SubmitError(path, [Problem(0, "file", f"nested deeper than {MAX_DEPTH} levels")])
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SubmitError(path, [Problem(exc.lineno, "file", f"not JSON: {exc.msg}")]) from None
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:  # a number past Python's digit limit
            raise SubmitError(path, [Problem(0, "file", f"not JSON: {exc}")]) from None
        if _deeper_than(doc, MAX_DEPTH):
            raise too_deep
        return [doc]
    _plain_yaml(path, text)
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise SubmitError(path, [_syntax(exc)]) from None
    except ValueError as exc:  # a number past Python's digit limit
        raise SubmitError(path, [Problem(0, "file", f"not YAML: {exc}")]) from None


def _read(path: Path) -> tuple[list[Any], list[yaml.Node | None]]:
    """The commands of the file, and for each its YAML node (for line numbers)."""
    text = _text(path)
    docs = _documents(path, text)
    try:
        nodes: list[yaml.Node | None] = [n for n in yaml.compose_all(text) if n is not None]
    except yaml.YAMLError:  # valid JSON that PyYAML cannot read: lines are then unknown
        nodes = [None] * len(docs)
    commands: list[Any] = []
    owners: list[yaml.Node | None] = []
    for doc, node in zip(docs, nodes, strict=False):
        wrapped = isinstance(doc, Mapping) and isinstance(doc.get("commands"), list)
        if wrapped:
            for key in doc:
                if key != "commands":
                    where = _lines(node, (key,))
                    raise SubmitError(
                        path,
                        [Problem(where, str(key), "unknown key: only `commands` may wrap a list")],
                    )
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
    unknown = [k for k in raw if k not in COMMAND_KEYS]
    for key in unknown:
        yield Problem(_lines(node, (key,)), f"{where}.{key}", _unknown(key, COMMAND_KEYS))
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
    extra = list(_undeclared(data, message, ("data",)))
    for loc, known in extra:
        field = ".".join(map(str, loc))
        yield Problem(_lines(node, loc), f"{where}.{field}", _unknown(loc[-1], known))
    if unknown or extra:
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


def _unknown(key: object, known: set[str]) -> str:
    close = difflib.get_close_matches(str(key), sorted(known), n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; one of {', '.join(sorted(known))}"
    return f"unknown key {str(key)[:64]!r}{hint}"


def _undeclared(
    raw: Any, parsed: Any, loc: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], set[str]]]:
    """Keys of `raw` that the model it was parsed into does not declare, with where they are
    and what was declared there; walked along the parsed value, so a union is judged by
    the member that matched."""
    if isinstance(parsed, BaseModel) and isinstance(raw, Mapping):
        fields = type(parsed).model_fields
        names = {f.alias or name: name for name, f in fields.items()}
        for key, value in raw.items():
            if key not in names:
                yield (*loc, key), set(names)
            else:
                yield from _undeclared(value, getattr(parsed, names[key]), (*loc, key))
    elif isinstance(parsed, list | tuple) and isinstance(raw, list):
        for index, (item, parsed_item) in enumerate(zip(raw, parsed, strict=False)):
            yield from _undeclared(item, parsed_item, (*loc, index))


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
