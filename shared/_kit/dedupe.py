"""What a service has finished handling, by CloudEvents identity, kept for a window.

An aggregate's inbox proves a change was applied in the same write as the change, but it
holds only an aggregate's last keys. This record holds every message the service finished
(applied, refused or ignored) for `window` (default 7 days) whatever else happened to
the aggregates meanwhile, so a command re-sent by a client within the window has no
second effect, and a refused one is refused again with the same `command_rejected`.
It is written after the message's effects are stored and before its offset is
committed, except where every aggregate the message changed holds its key in its inbox
(`record_later`): that inbox is proof enough until the record is written, and keeps the
key until then (an inbox forgets only keys recorded here, or older than the window), so
the record waits for the commit in the background instead of the commit for it.
"""

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared._kit.clock import Clock
from shared._kit.envelope import CloudEvent

log = structlog.get_logger("station.dedupe")

Document = dict[str, Any]
Outcome = Literal["applied", "rejected", "ignored"]
BULK_CHUNK = 50
DUPLICATE_KEY = 11000
# keys per `_id` list lookup: FerretDB's patched SQLite store pushes lists of up to 500 down
LOOKUP_CHUNK = 500
RECENT_KEYS = 100_000
# a record written later that keeps failing is given up after this many attempts (its
# aggregates' inboxes keep its key for the dedupe window)
LATER_ATTEMPTS = 5


@dataclass(frozen=True)
class Finished:
    """A message handled before: how it ended, and the events it answered with."""

    outcome: Outcome
    events: list[CloudEvent]


class Processed:
    """The identities of finished messages of one service, with what they answered."""

    def __init__(
        self, collection: AsyncCollection[Document], *, clock: Clock, window: timedelta
    ) -> None:
        self.collection = collection
        self.clock = clock
        self.window = window
        # keys this process recorded lately: asked again (to trim an inbox), they need no
        # query; a key is added only once its record is stored
        self._recent: OrderedDict[str, None] = OrderedDict()
        # records to write in the background (`record_later`), and the task writing them
        self._later: list[tuple[str, Outcome, Sequence[CloudEvent]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def create_indexes(self) -> None:
        await self.collection.create_index([("at", ASCENDING)])

    @staticmethod
    def _finished(doc: Document) -> Finished:
        events = [CloudEvent.model_validate_json(e) for e in doc.get("events", [])]
        return Finished(doc["outcome"], events)

    async def seen(self, key: str) -> Finished | None:
        doc = await self.collection.find_one({"_id": key})
        return None if doc is None else self._finished(doc)

    async def _found(self, keys: Sequence[str], projection: Document | None) -> list[Document]:
        """The records of `keys`, by `_id` lists of at most LOOKUP_CHUNK (FerretDB's SQLite
        store answers those from its _id index: a build patch, infra/ferretdb_patches.py)."""
        found: list[Document] = []
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = list(keys[start : start + LOOKUP_CHUNK])
            found.extend(
                [d async for d in self.collection.find({"_id": {"$in": chunk}}, projection)]
            )
        return found

    async def seen_many(self, keys: Sequence[str]) -> dict[str, Finished | None]:
        """`seen` for many keys at once, in a query per LOOKUP_CHUNK keys."""
        found = {d["_id"]: self._finished(d) for d in await self._found(keys, None)}
        return {k: found.get(k) for k in keys}

    async def known(self, keys: Sequence[str]) -> set[str]:
        """Which of `keys` are recorded (those this process recorded lately, from memory)."""
        remembered = {k for k in keys if k in self._recent}
        rest = [k for k in keys if k not in remembered]
        if not rest:
            return remembered
        return remembered | {d["_id"] for d in await self._found(rest, {"_id": 1})}

    def _remember(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._recent[key] = None
            self._recent.move_to_end(key)
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    async def record(self, key: str, outcome: Outcome, events: Sequence[CloudEvent] = ()) -> None:
        """Remember a finished message (idempotent: the first record stands)."""
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.insert_one(
                {
                    "_id": key,
                    "outcome": outcome,
                    "at": self.clock.now(),
                    "events": [e.model_dump_json(exclude_none=True) for e in events],
                }
            )
        self._remember([key])

    async def record_many(
        self, finished: Sequence[tuple[str, Outcome, Sequence[CloudEvent]]]
    ) -> None:
        """Remember many finished messages in bulk (the first record of each stands)."""
        now = self.clock.now()
        docs = [
            {
                "_id": key,
                "outcome": outcome,
                "at": now,
                "events": [e.model_dump_json(exclude_none=True) for e in events],
            }
            for key, outcome, events in finished
        ]
        for start in range(0, len(docs), BULK_CHUNK):
            try:
                await self.collection.insert_many(docs[start : start + BULK_CHUNK], ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise
        self._remember([key for key, _, _ in finished])

    def record_later(self, finished: Sequence[tuple[str, Outcome, Sequence[CloudEvent]]]) -> None:
        """Remember these in the background: only for messages whose every change holds
        their key in its aggregate's inbox (see the module's docstring). Written in bulk,
        in order, retried; `written_later` waits for them."""
        if not finished:
            return
        self._later.extend(finished)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_later())

    async def _write_later(self) -> None:
        failures = 0
        while self._later:
            batch = self._later[:BULK_CHUNK]
            try:
                await self.record_many(batch)
            except Exception as exc:  # noqa: BLE001 - retried, then left to the inboxes
                failures += 1
                given_up = failures >= LATER_ATTEMPTS
                log.warning(
                    "dedupe_record_failed",
                    records=len(batch),
                    attempt=failures,
                    given_up=given_up,
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
                if not given_up:
                    await asyncio.sleep(min(5.0, 0.1 * 2**failures))
                    continue
            failures = 0
            del self._later[: len(batch)]

    async def written_later(self) -> None:
        """Wait until what `record_later` was given is written (or given up)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def sweep(self) -> int:
        """Forget what is older than the window; return how many were forgotten."""
        result = await self.collection.delete_many({"at": {"$lt": self.clock.now() - self.window}})
        return int(result.deleted_count)
