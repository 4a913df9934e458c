"""What a service has finished handling, by CloudEvents identity, kept for a window.

An aggregate's inbox proves a change was applied in the same write as the change, but it
holds only an aggregate's last keys. This record holds every message the service finished
(applied, refused or ignored) for `window` (default 7 days) whatever else happened to
the aggregates meanwhile, so a command re-sent by a client within the window has no
second effect, and a refused one is refused again with the same `command_rejected`.
It is written after the message's events are published and before its offset is
committed; a crash in between leaves the aggregate inbox to recognise the redelivery.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared._kit.clock import Clock
from shared._kit.envelope import CloudEvent

Document = dict[str, Any]
Outcome = Literal["applied", "rejected", "ignored"]
BULK_CHUNK = 50
DUPLICATE_KEY = 11000
LOOKUPS_AT_ONCE = 16


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

    async def create_indexes(self) -> None:
        await self.collection.create_index([("at", ASCENDING)])

    async def seen(self, key: str) -> Finished | None:
        doc = await self.collection.find_one({"_id": key})
        if doc is None:
            return None
        events = [CloudEvent.model_validate_json(e) for e in doc.get("events", [])]
        return Finished(doc["outcome"], events)

    async def known(self, keys: Sequence[str]) -> set[str]:
        """Which of `keys` are recorded (one query)."""
        if not keys:
            return set()
        cursor = self.collection.find({"_id": {"$in": list(keys)}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def record(self, key: str, outcome: Outcome, events: Sequence[CloudEvent] = ()) -> None:
        """Remember a finished message (idempotent: the first record stands)."""
        try:
            await self.collection.insert_one(
                {
                    "_id": key,
                    "outcome": outcome,
                    "at": self.clock.now(),
                    "events": [e.model_dump_json(exclude_none=True) for e in events],
                }
            )
        except DuplicateKeyError:
            return

    async def seen_many(self, keys: Sequence[str]) -> dict[str, Finished | None]:
        """`seen` for many keys at once: one `_id` lookup each (the only lookups FerretDB
        answers from its index), run side by side."""
        limit = asyncio.Semaphore(LOOKUPS_AT_ONCE)

        async def one(key: str) -> Finished | None:
            async with limit:
                return await self.seen(key)

        found = await asyncio.gather(*(one(k) for k in keys))
        return dict(zip(keys, found, strict=True))

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

    async def sweep(self) -> int:
        """Forget what is older than the window; return how many were forgotten."""
        result = await self.collection.delete_many({"at": {"$lt": self.clock.now() - self.window}})
        return int(result.deleted_count)
