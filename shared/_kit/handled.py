"""What one message led to while its unit of work is decided, and which of the finished
messages must be recorded before the offsets are committed."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared._kit.context import Applied
from shared._kit.envelope import CloudEvent

Outcome = tuple[Literal["applied", "rejected"], list[CloudEvent]]


@dataclass
class Handled:
    """What one message led to, held until its unit of work is written."""

    event: CloudEvent
    where: Mapping[str, object]
    started: float
    label: str
    key: str
    # what the message answers with, in order: re-published, new, or a refusal
    events: list[CloudEvent] = field(default_factory=list)
    applied: list[Applied[Any]] = field(default_factory=list)
    record: Outcome | None = None
    duplicate: bool = False
    refusal: tuple[str, list[str]] | None = None
    rejected: bool = False
    logged: str = "event_received"


Record = tuple[str, Literal["applied", "rejected"], list[CloudEvent]]


def finished_records(handled: Sequence[Handled]) -> tuple[list[Record], list[Record]]:
    """What to remember before the offsets are committed, and what may follow them: a
    message applied whose every change holds its key in its aggregate's inbox is proven
    handled by those inboxes until its record is written; a refusal, or a message that
    changed nothing, has only its record."""
    now: list[Record] = []
    later: list[Record] = []
    for h in handled:
        if h.record is None:
            continue
        outcome, events = h.record
        proven = outcome == "applied" and bool(h.applied) and all(a.in_inbox for a in h.applied)
        (later if proven else now).append((h.key, outcome, events))
    return now, later
