"""An aggregate's inbox: the keys of the messages that changed it, so a redelivered one
changes nothing, kept short by forgetting those recorded as finished."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class FinishedKeys(Protocol):
    window: timedelta

    async def known(self, keys: Sequence[str]) -> set[str]: ...


# An inbox entry is one string, "<key> <root> <epoch ms>": FerretDB stores a document's
# strings far faster than sub-documents holding dates (measured: 60 compare-and-sets of
# enterprise documents with 20 entries, 350 ms as sub-documents with dates, 170 ms as
# strings). Documents written earlier hold `{"k", "r", "t"}` entries, or plain keys.


def inbox_entry(key: str, root: str, at: datetime) -> str:
    return f"{key} {root} {int(at.timestamp() * 1000)}"


def entry_key(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry["k"])
    return str(entry).split(" ", 1)[0]


def _entry_root(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry["r"])
    parts = str(entry).split(" ")
    return parts[1] if len(parts) == 3 else parts[0]


def _entry_time(entry: Any) -> datetime:
    if isinstance(entry, dict):
        return entry["t"] if "t" in entry else datetime.min.replace(tzinfo=UTC)
    parts = str(entry).split(" ")
    if len(parts) == 3:
        return datetime.fromtimestamp(int(parts[2]) / 1000, tz=UTC)
    return datetime.min.replace(tzinfo=UTC)


async def trimmed(
    inbox: list[Any],
    *,
    size: int,
    finished: FinishedKeys | None,
    now: datetime,
    first_in_unit: Callable[[], bool] = lambda: True,
) -> list[Any]:
    """The inbox without the oldest keys of finished messages (or of messages older than
    the dedupe window), once it grows past twice `size`; without a record of finished
    messages, the last `size` keys.

    Within a unit, the record of finished messages is asked once per aggregate
    (`first_in_unit()`, asked only when trimming is due): the messages of the unit itself
    finish only when it is written, so asking again for each of a batch's commands would
    find nothing more, at a query each."""
    if len(inbox) <= size:
        return inbox
    if finished is None:
        return inbox[-size:]
    if len(inbox) <= 2 * size or not first_in_unit():
        return inbox
    oldest = inbox[:-size]
    done = await finished.known(sorted({_entry_root(e) for e in oldest}))
    expired = now - finished.window
    kept = [e for e in oldest if _entry_root(e) not in done and _entry_time(e) > expired]
    return kept + inbox[-size:]
