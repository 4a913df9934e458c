"""An aggregate's outbox: events stored with a change, dropped once they are published.

Events are stored in the aggregate's document in the same write as the change that
emits them (`AggregateStore`), published, then dropped from the outbox: by the
aggregate's next write, or by the marking loop (`marking.py`) for aggregates not
written again; the relay (`publishing.OutboxRelay`) publishes what a crash left. This
module is the entries' format.
"""

from collections.abc import Collection, Sequence
from typing import Any

from shared._kit.envelope import CloudEvent
from shared._kit.packing import pack_lines, unpack_lines

# documents per bulk command: an unpatched FerretDB v1.24 never answers one `update`
# command of 100 or more statements and wedges that database (README, "FerretDB hangs")
BULK_CHUNK = 50


# An outbox entry is one string, "<event id> <cause key> <event JSON>" (ids and keys are
# UUIDs: no spaces): FerretDB's cost grows with the number of fields in a document, and as
# strings a block of 1,200 entries was written and read about 40 % faster than as
# three-field sub-documents (measured: 106-113 against 159-197 ms). A change emitting
# many events (a campaign's block: 1,200 `visit_assigned`) stores them as one packed entry,
# "Z <cause key> <id>,<id>,... <base64 of their JSON lines, zlib-compressed>": 117 kB
# instead of 696 kB, and the block's insert, update, read and outbox drop each took less
# than half the time (measured on FerretDB: insert 22-34 against 67-73 ms, update 49-56
# against 118-129, read 33-41 against 75-89, drop 37-47 against 80-93; compressing took
# 5.6 ms). Entries stored as sub-documents by earlier versions are still read.
PACKED_FROM = 8
_PACKED = "Z"


def outbox_entries(events: Sequence[CloudEvent], cause: str) -> list[str]:
    """The outbox entries of one change's events."""
    if len(events) < PACKED_FROM:
        return [f"{e.id} {cause} {e.model_dump_json(exclude_none=True)}" for e in events]
    packed = pack_lines([e.model_dump_json(exclude_none=True) for e in events])
    return [f"{_PACKED} {cause} {','.join(e.id for e in events)} {packed}"]


def _parts(entry: str) -> list[str]:
    head = entry[: entry.find(" ")]
    return entry.split(" ", 3 if head == _PACKED else 2)


def entry_ids(entry: Any) -> list[str]:
    """The ids of the events an entry holds."""
    if isinstance(entry, dict):
        return [str(entry["id"])]
    head = entry[: entry.find(" ")]
    if head != _PACKED:
        return [head]
    return _parts(entry)[2].split(",")


def entry_cause(entry: Any) -> str:
    """The key of the message whose change stored the entry."""
    return str(entry["cause"]) if isinstance(entry, dict) else _parts(entry)[1]


def entry_events(entry: Any) -> list[CloudEvent]:
    """The events an entry holds, in the order they were emitted."""
    if isinstance(entry, dict):
        return [CloudEvent.model_validate_json(entry["event"])]
    parts = _parts(entry)
    if parts[0] != _PACKED:
        return [CloudEvent.model_validate_json(parts[2])]
    return [CloudEvent.model_validate_json(line) for line in unpack_lines(parts[3])]


def holds_any(outbox: Sequence[Any], ids: set[str]) -> bool:
    """Whether an outbox holds any of these events."""
    return any(i in ids for entry in outbox for i in entry_ids(entry))


def without_sent(outbox: Sequence[Any], sent: Collection[str]) -> list[Any]:
    """The outbox without the entries whose events are all sent."""
    return [e for e in outbox if not all(i in sent for i in entry_ids(e))]
