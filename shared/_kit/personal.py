"""Residents' personal fields: marked where a fact is defined, kept off the public topic.

    class Party(Part):
        name: Annotated[Name, PERSONAL]
        role: PartyRole

A fact whose fields (or whose parts' fields, in lists too) carry `PERSONAL` is published
twice with the same id, type and subject: on `<service>.events` without those fields, for
everyone who may read facts, and whole on `<service>.private`, for the consumers that need
them (the contract allows exactly this move and no other drop). A reader that needs them
says so with `private=True` and reads the private topic. Which fields move is known by
type (`personal_paths_of`) from the classes that mark them, so the outbox relay, which
holds only CloudEvents, splits what a crash left the same way.
"""

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import BaseModel

from shared._kit.envelope import CloudEvent

# a path of field names into a fact's data; EACH steps into every entry of a list
Path = tuple[str, ...]
EACH: Final = "*"


@dataclass(frozen=True)
class Personal:
    """The marker of a personal field (`Annotated[Name, PERSONAL]`)."""


PERSONAL: Final = Personal()

# fact type -> the paths of its personal fields, from the classes that define them
_BY_TYPE: dict[str, tuple[Path, ...]] = {}


def _marked(annotation: Any) -> bool:
    """Whether the annotation, or a member of its union, is `Annotated[..., PERSONAL]`."""
    if typing.get_origin(annotation) is Annotated:
        if any(isinstance(m, Personal) for m in annotation.__metadata__):
            return True
        return _marked(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_marked(a) for a in typing.get_args(annotation))
    return False


def _parts(annotation: Any, path: Path) -> Iterator[tuple[type[BaseModel], Path]]:
    """The models an annotation holds, with where their data sits below `path`."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        yield from _parts(typing.get_args(annotation)[0], path)
    elif origin in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            yield from _parts(member, path)
    elif origin in (list, tuple, set, frozenset, Sequence):
        for member in typing.get_args(annotation):
            if member is not Ellipsis:
                yield from _parts(member, (*path, EACH))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, path


def personal_paths(model: type[BaseModel], below: Path = ()) -> tuple[Path, ...]:
    """The paths of a model's personal fields, its parts' included."""
    found: list[Path] = []
    for name, field in model.model_fields.items():
        path = (*below, name)
        if any(isinstance(m, Personal) for m in field.metadata) or _marked(field.annotation):
            found.append(path)
            continue
        for part, at in _parts(field.annotation, path):
            if part is not model:
                found += [p for p in personal_paths(part, at) if p not in found]
    return tuple(found)


def register(event_type: str, model: type[BaseModel]) -> None:
    """Remember which fields of `event_type` are personal, from the class defining it.

    Two classes of one type that disagree are refused: the split would depend on which
    one was imported. (Readers mark nothing: they say `private=True` instead.)"""
    paths = personal_paths(model)
    if not paths:
        return
    known = _BY_TYPE.get(event_type)
    if known is not None and known != paths:
        raise TypeError(
            f"{model.__name__}: {event_type} marks {_names(paths)} personal, "
            f"another class of it {_names(known)}"
        )
    _BY_TYPE[event_type] = paths


def personal_paths_of(event_type: str) -> tuple[Path, ...]:
    """The personal fields of a fact type (none for a type no class marks)."""
    return _BY_TYPE.get(event_type, ())


def publishes_personal(service: str) -> bool:
    """Whether a fact type of `service` (defined by a class imported so far) has personal
    fields: a service's own facts are imported by its wiring."""
    return any(t.partition(".")[0] == service for t in _BY_TYPE)


def dotted(path: Path) -> str:
    """`parties[].name` for ("parties", EACH, "name")."""
    return ".".join(path).replace(f".{EACH}", "[]")


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(dotted(p) for p in paths)


def _without(value: Any, path: Path) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == EACH:
        if not isinstance(value, list):
            return value
        return [_without(item, rest) for item in value]
    if not isinstance(value, Mapping) or head not in value:
        return value
    if not rest:
        return {k: v for k, v in value.items() if k != head}
    return {**value, head: _without(value[head], rest)}


def public_data(data: Mapping[str, Any], paths: Sequence[Path]) -> dict[str, Any]:
    """The data without the fields at `paths` (ids and every other field stay)."""
    public: Any = dict(data)
    for path in paths:
        public = _without(public, path)
    return dict(public)


def split(event: CloudEvent) -> tuple[CloudEvent, CloudEvent | None]:
    """The public copy of an event and, if its type has personal fields, the whole event
    for the private topic (same id, type and subject); else (event, None)."""
    paths = personal_paths_of(event.type)
    if not paths or event.data is None:
        return event, None
    return event.model_copy(update={"data": public_data(event.data, paths)}), event


def copies(
    topic: str, private: str | None, events: Sequence[CloudEvent]
) -> list[tuple[str, list[CloudEvent]]]:
    """Where each event goes: its public copy to `topic`, the whole one to `private`
    (when the service has one), each topic's events in their order."""
    public: list[CloudEvent] = []
    whole: list[CloudEvent] = []
    for event in events:
        shown, kept = split(event) if private is not None else (event, None)
        public.append(shown)
        if kept is not None:
            whole.append(kept)
    found = [(topic, public)]
    if private is not None and whole:
        found.append((private, whole))
    return found
