"""`make stack` on a terminal: the services' JSON log lines as short coloured lines.

A service's log line about an event carries its ids, not its data; the key fact
(`surplus 10,000 kg`) comes from the event itself, read from the topics by a follower
that keeps the latest events' data by id. A line waits for its event's data at most
`WAIT_S` (the broker hands it over within milliseconds), and not at all while the
follower is not getting anything, so a Kafka outage never holds the logs back.
"""

import asyncio
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from rich.text import Text

from cli.events import follow
from cli.i18n import Lang
from cli.render import SERVICE_STYLES, log_line, shown

KEEP = 20_000
WAIT_S = 1.0
EVENT_LINES = {"event_received", "event_emitted"}


class EventData:
    """The data of the latest events read from the topics, by event id."""

    def __init__(self, keep: int = KEEP, wait_s: float = WAIT_S) -> None:
        self.keep = keep
        self.wait_s = wait_s
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._arrived: dict[str, asyncio.Event] = {}
        self.misses = 0

    def add(self, event_id: str, data: dict[str, Any]) -> None:
        self._data[event_id] = data
        self._data.move_to_end(event_id)
        while len(self._data) > self.keep:
            self._data.popitem(last=False)
        if (waiting := self._arrived.pop(event_id, None)) is not None:
            waiting.set()

    async def get(self, event_id: str) -> dict[str, Any] | None:
        """The event's data, waiting for it a little unless recent lookups all missed."""
        wait_s = self.wait_s
        if event_id in self._data:
            self.misses = 0
            return self._data[event_id]
        if self.misses >= 3:  # the follower is behind or down: do not hold the logs
            wait_s = 0.05
        arrived = self._arrived.setdefault(event_id, asyncio.Event())
        with suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), wait_s)
        self._arrived.pop(event_id, None)
        found = self._data.get(event_id)
        self.misses = 0 if found is not None else self.misses + 1
        return found

    async def follow(self, bootstrap: str, topics: Sequence[str]) -> None:
        """Keep the data of every event of `topics` from now on (until cancelled)."""
        async for event in follow(bootstrap, topics):
            if event.id:
                self.add(event.id, event.data)


def parse(raw: str) -> dict[str, Any] | None:
    """A JSON log record, or None for any other text (a traceback, a banner)."""
    if not raw.startswith("{"):
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


async def render_raw(name: str, raw: str, lang: Lang, known: EventData | None = None) -> Text:
    """One line a child process wrote, rendered for a person."""
    record = parse(raw)
    if record is None:
        text = Text(f"{name:<10} ", style=SERVICE_STYLES.get(name, "white"))
        text.append(shown(raw), style="dim")
        return text
    data: Mapping[str, Any] | None = None
    if known is not None and record.get("event") in EVENT_LINES and record.get("event_id"):
        data = await known.get(str(record["event_id"]))
    record.setdefault("service", name)
    return log_line(record, lang, data)
