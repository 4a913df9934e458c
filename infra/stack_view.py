"""The stack's logs for a person: one short coloured line per event on a terminal.

On a terminal (and unless `LOG_FORMAT` asks for `json` or `console`), each service's JSON
log line is rendered by the CLI's renderer (cli/render.py, the same lines as `station
tail`), with the event's key fact read from the topics (cli/logview.py). Files, pipes
and `LOG_FORMAT=json` keep the JSON lines. `STATION_LANG=en` renders in English.
"""

import asyncio
import os
import sys
from contextlib import suppress

from rich.console import Console

from cli.i18n import Lang
from cli.logview import EventData, render_raw
from cli.topics import events_topics, intake_topics

RETRY_S = 2.0


class LogView:
    """Renders child processes' lines, and follows the topics for the events' data."""

    def __init__(self, bootstrap: str, lang: Lang, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.lang = lang
        self.known = EventData()
        self._follower = asyncio.create_task(self._follow(bootstrap))

    async def _follow(self, bootstrap: str) -> None:
        """Follow the topics for ever; after a failure (Kafka restarting), again."""
        while True:
            try:
                await self.known.follow(bootstrap, (*intake_topics(), *events_topics()))
            except Exception:  # noqa: BLE001 - lines only lose their key facts meanwhile
                await asyncio.sleep(RETRY_S)

    @classmethod
    def for_terminal(cls, bootstrap: str) -> "LogView | None":
        """A view when stdout is a terminal and the log format is not forced, else None."""
        if not sys.stdout.isatty() or os.environ.get("LOG_FORMAT", "auto") != "auto":
            return None
        lang: Lang = "en" if os.environ.get("STATION_LANG") == "en" else "zh"
        return cls(bootstrap, lang)

    async def show(self, name: str, raw: str) -> None:
        self.console.print(await render_raw(name, raw, self.lang, self.known))

    async def close(self) -> None:
        self._follower.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await self._follower
