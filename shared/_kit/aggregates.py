"""Inbox and outbox inside the aggregate's own document: effects exactly once, no transactions.

One document per aggregate holds its typed state, the idempotency keys it applied last
(inbox) and the events it emitted but has not yet seen published (outbox). Every change
is one compare-and-set on `version`, so the state change, the inbox mark and the outbox
entries land together or not at all, on FerretDB (no transactions) as on MongoDB.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared._kit.clock import Clock
from shared._kit.context import Applied, Context
from shared._kit.envelope import CloudEvent
from shared._kit.messages import Fact, State

Document = dict[str, Any]
S = TypeVar("S", bound=State)
# Redeliveries come from the few records not yet committed when a consumer died or lost
# its partitions, so the last 200 keys of one aggregate are a wide margin; a longer inbox
# makes every write of a busy aggregate slower (measured on FerretDB: ~0.1 ms per entry).
DEFAULT_INBOX_SIZE = 200


@dataclass(frozen=True)
class Change(Generic[S]):
    """What a decision does to an aggregate: its whole new state and the facts it states."""

    state: S
    facts: Sequence[Fact] = ()


Decide = Callable[[S | None], Change[S] | None]


class AggregateStore(Generic[S]):
    """One collection of aggregates of one state type, with inbox and outbox."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        state_type: type[S],
        *,
        clock: Clock,
        inbox_size: int = DEFAULT_INBOX_SIZE,
    ) -> None:
        self.collection = collection
        self.state_type = state_type
        self.clock = clock
        self.inbox_size = inbox_size

    @property
    def name(self) -> str:
        return self.collection.name

    async def create_indexes(self) -> None:
        await self.collection.create_index([("outbox_since", ASCENDING)])

    def _state(self, doc: Document) -> S:
        return self.state_type.model_validate(doc["state"])

    async def load(self, aggregate_id: str) -> S | None:
        """The aggregate's state, or None if it does not exist."""
        doc = await self.collection.find_one({"_id": aggregate_id})
        return None if doc is None else self._state(doc)

    async def find(self, query: Mapping[str, Any]) -> list[S]:
        """Every aggregate whose document matches a MongoDB query on `state.<field>` paths."""
        return [self._state(doc) async for doc in self.collection.find(dict(query))]

    async def count(self) -> int:
        return await self.collection.count_documents({})

    async def apply(self, aggregate_id: str, ctx: Context, decide: Decide[S]) -> Applied[S]:
        """Run `decide` on the current state and store its change with `ctx.key` in the inbox.

        A key already in the inbox changes nothing; its events still unsent are returned so
        they are published again. `decide` may raise `Rejected` (nothing is written) or
        return None (nothing to do, nothing written). The result is also collected in `ctx`.
        """
        applied = await self._apply(aggregate_id, ctx, decide)
        ctx.applied.append(applied)
        return applied

    async def _apply(self, aggregate_id: str, ctx: Context, decide: Decide[S]) -> Applied[S]:
        while True:
            doc = await self.collection.find_one({"_id": aggregate_id})
            if doc is not None and ctx.key in doc["inbox"]:
                pending = [
                    CloudEvent.model_validate_json(entry["event"])
                    for entry in doc["outbox"]
                    if entry["cause"] == ctx.key
                ]
                return Applied(
                    self, aggregate_id, pending, duplicate=True, state=self._state(doc), stored=doc
                )
            current = None if doc is None else self._state(doc)
            change = decide(current)
            if change is None:
                return Applied(self, aggregate_id, state=current)
            events = self._envelopes(aggregate_id, ctx, change.facts)
            stored = await self._write(aggregate_id, doc, ctx.key, change.state, events)
            if stored is not None:
                return Applied(self, aggregate_id, events, state=change.state, stored=stored)

    def _envelopes(
        self, aggregate_id: str, ctx: Context, facts: Sequence[Fact]
    ) -> list[CloudEvent]:
        # the role names the aggregate, the fact's type and its rank among facts of that
        # type in this change: unique under one key, the same when a decision is replayed
        seen: dict[str, int] = {}
        events = []
        for fact in facts:
            rank = seen[fact.type] = seen.get(fact.type, -1) + 1
            events.append(ctx.envelope(fact, f"{self.name}/{aggregate_id}/{fact.type}#{rank}"))
        return events

    async def _write(
        self,
        aggregate_id: str,
        doc: Document | None,
        key: str,
        state: S,
        events: Sequence[CloudEvent],
    ) -> Document | None:
        """Store the change if nobody changed the document since `doc`; return what is stored."""
        now = self.clock.now()
        entries = [
            {"id": e.id, "cause": key, "event": e.model_dump_json(exclude_none=True)}
            for e in events
        ]
        stored_state = state.model_dump(mode="json")
        if doc is None:
            created = {
                "_id": aggregate_id,
                "version": 1,
                "state": stored_state,
                "inbox": [key],
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
            "state": stored_state,
            "inbox": [*doc["inbox"], key][-self.inbox_size :],
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

    async def unsent(self, older_than: datetime, limit: int = 100) -> list[Applied[S]]:
        """Aggregates whose outbox has waited since before `older_than` (left by a crash)."""
        found: list[Applied[S]] = []
        cursor = self.collection.find({"outbox_since": {"$lte": older_than}}).limit(limit)
        async for doc in cursor:
            events = [CloudEvent.model_validate_json(entry["event"]) for entry in doc["outbox"]]
            found.append(Applied(self, doc["_id"], events, state=self._state(doc), stored=doc))
        return found


def _oldest(doc: Document, now: datetime) -> datetime:
    since = doc.get("outbox_since")
    return since if isinstance(since, datetime) and doc["outbox"] else now
