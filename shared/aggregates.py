"""Inbox and outbox inside the aggregate's own document: effects exactly once, no transactions.

One document per aggregate holds its state, the ids of the last events it consumed
(inbox) and the events it emitted but has not yet seen published (outbox). Every change
is one compare-and-set on `version`, so the state change, the inbox mark and the outbox
entries land together or not at all, on FerretDB (no transactions) as on MongoDB.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.clock import Clock
from shared.envelope import CloudEvent

Document = dict[str, Any]
# Redeliveries come from the few records not yet committed when a consumer died or lost
# its partitions, so the last 200 ids of one aggregate are a wide margin; a longer inbox
# makes every write of a busy aggregate slower (measured on FerretDB: ~0.1 ms per entry).
DEFAULT_INBOX_SIZE = 200


@dataclass(frozen=True)
class Change:
    """What a decision does to an aggregate: its whole new state and the events it emits."""

    state: Document
    events: Sequence[CloudEvent] = ()


@dataclass
class Applied:
    """The outcome of applying one cause: the events to publish now (new or left unsent)."""

    store: "AggregateStore"
    aggregate_id: str
    events: list[CloudEvent] = field(default_factory=list)
    duplicate: bool = False
    state: Document | None = None
    # the document's version and outbox as last seen, so marking sent needs no re-read
    stored: Document | None = None

    async def mark_published(self) -> None:
        if self.events:
            await self.store.mark_published(
                self.aggregate_id, [e.id for e in self.events], known=self.stored
            )


Decide = Callable[[Document | None], Change | None]


class AggregateStore:
    """One collection of aggregates with inbox and outbox."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        clock: Clock,
        inbox_size: int = DEFAULT_INBOX_SIZE,
    ) -> None:
        self.collection = collection
        self.clock = clock
        self.inbox_size = inbox_size

    async def create_indexes(self) -> None:
        await self.collection.create_index([("outbox_since", ASCENDING)])

    async def load(self, aggregate_id: str) -> Document | None:
        """The aggregate's state, or None if it does not exist."""
        doc = await self.collection.find_one({"_id": aggregate_id})
        return None if doc is None else dict(doc["state"])

    async def apply(self, aggregate_id: str, cause: CloudEvent, decide: Decide) -> Applied:
        """Run `decide` on the current state and store its change with the cause in the inbox.

        A cause already in the inbox changes nothing; its events still unsent are returned
        so the caller publishes them again. `decide` may raise to refuse (nothing is written).
        """
        while True:
            doc = await self.collection.find_one({"_id": aggregate_id})
            if doc is not None and cause.id in doc["inbox"]:
                pending = [
                    CloudEvent.model_validate_json(entry["event"])
                    for entry in doc["outbox"]
                    if entry["cause"] == cause.id
                ]
                return Applied(
                    self, aggregate_id, pending, duplicate=True, state=doc["state"], stored=doc
                )
            change = decide(None if doc is None else dict(doc["state"]))
            if change is None:
                return Applied(self, aggregate_id, state=None if doc is None else doc["state"])
            stored = await self._write(aggregate_id, doc, cause, change)
            if stored is not None:
                return Applied(
                    self, aggregate_id, list(change.events), state=change.state, stored=stored
                )

    async def _write(
        self, aggregate_id: str, doc: Document | None, cause: CloudEvent, change: Change
    ) -> Document | None:
        """Store the change if nobody changed the document since `doc`; return what is stored."""
        now = self.clock.now()
        entries = [
            {"id": e.id, "cause": cause.id, "event": e.model_dump_json(exclude_none=True)}
            for e in change.events
        ]
        if doc is None:
            created = {
                "_id": aggregate_id,
                "version": 1,
                "state": change.state,
                "inbox": [cause.id],
                "outbox": entries,
                "outbox_since": now if entries else None,
            }
            try:
                await self.collection.insert_one(created)
            except DuplicateKeyError:
                return None  # created concurrently: decide again on what is there now
            return created
        outbox = [*doc["outbox"], *entries]
        fields = {
            "version": doc["version"] + 1,
            "state": change.state,
            "inbox": [*doc["inbox"], cause.id][-self.inbox_size :],
            "outbox": outbox,
            "outbox_since": _oldest(doc, now) if outbox else None,
        }
        result = await self.collection.update_one(
            {"_id": aggregate_id, "version": doc["version"]}, {"$set": fields}
        )
        return fields if result.modified_count == 1 else None

    async def mark_published(
        self, aggregate_id: str, event_ids: Sequence[str], *, known: Document | None = None
    ) -> None:
        """Drop published events from the outbox (a compare-and-set like every change).

        `known` is the document as the caller last saw it; if nobody changed it since, one
        write does it, otherwise the document is read again.
        """
        sent = set(event_ids)
        doc = known
        while True:
            if doc is None:
                doc = await self.collection.find_one({"_id": aggregate_id})
            if doc is None or not any(entry["id"] in sent for entry in doc["outbox"]):
                return
            outbox = [entry for entry in doc["outbox"] if entry["id"] not in sent]
            result = await self.collection.update_one(
                {"_id": aggregate_id, "version": doc["version"]},
                {
                    "$set": {
                        "version": doc["version"] + 1,
                        "outbox": outbox,
                        "outbox_since": doc["outbox_since"] if outbox else None,
                    }
                },
            )
            if result.modified_count == 1:
                return
            doc = None

    async def unsent(self, older_than: datetime, limit: int = 100) -> list[Applied]:
        """Aggregates whose outbox has waited since before `older_than` (left by a crash)."""
        found: list[Applied] = []
        cursor = self.collection.find({"outbox_since": {"$lte": older_than}}).limit(limit)
        async for doc in cursor:
            events = [CloudEvent.model_validate_json(entry["event"]) for entry in doc["outbox"]]
            found.append(Applied(self, doc["_id"], events, state=doc["state"], stored=doc))
        return found


def _oldest(doc: Document, now: datetime) -> datetime:
    since = doc.get("outbox_since")
    return since if isinstance(since, datetime) and doc["outbox"] else now
