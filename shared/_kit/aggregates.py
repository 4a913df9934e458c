"""Inbox and outbox inside the aggregate's own document: effects exactly once, no transactions.

One document per aggregate holds its typed state, the idempotency keys it applied last
(inbox) and the events it emitted but has not yet seen published (outbox). Every change
is one compare-and-set on `version`, so the state change, the inbox mark and the outbox
entries land together or not at all, on FerretDB (no transactions) as on MongoDB.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared._kit.clock import Clock
from shared._kit.context import Applied, Context
from shared._kit.envelope import CloudEvent
from shared._kit.messages import Fact, State

Document = dict[str, Any]
S = TypeVar("S", bound=State)
# The inbox keeps the keys of messages in flight; once a message is recorded as finished
# (shared/_kit/dedupe.py) its keys may go. Past this many entries, the oldest half are
# dropped if finished (one query per that many writes); a longer inbox makes every write
# of a busy aggregate slower (measured on FerretDB: ~0.1 ms per entry).
DEFAULT_INBOX_SIZE = 200
# documents per bulk command: FerretDB v1.24 (SQLite) never answers one `update` command
# of 100 or more statements and wedges that database (README); bulk writes here are an
# `insert` of many documents or one `update` statement over `$in` ids, and stay well
# below that size anyway
BULK_CHUNK = 50
DUPLICATE_KEY = 11000


class FinishedKeys(Protocol):
    window: timedelta

    async def known(self, keys: Sequence[str]) -> set[str]: ...


def _entry_key(entry: Any) -> str:
    # documents written before inbox entries named their message were plain keys
    return str(entry["k"]) if isinstance(entry, dict) else str(entry)


def _entry_root(entry: Any) -> str:
    return str(entry["r"]) if isinstance(entry, dict) else str(entry)


def _entry_time(entry: Any) -> datetime:
    return (
        entry["t"] if isinstance(entry, dict) and "t" in entry else datetime.min.replace(tzinfo=UTC)
    )


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
        finished: FinishedKeys | None = None,
        inbox_size: int = DEFAULT_INBOX_SIZE,
    ) -> None:
        self.collection = collection
        self.state_type = state_type
        self.clock = clock
        self.finished = finished
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
            if doc is not None and any(_entry_key(e) == ctx.key for e in doc["inbox"]):
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
            stored = await self._write(aggregate_id, doc, ctx, change.state, events)
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
        ctx: Context,
        state: S,
        events: Sequence[CloudEvent],
    ) -> Document | None:
        """Store the change if nobody changed the document since `doc`; return what is stored."""
        now = self.clock.now()
        key = ctx.key
        entries = [
            {"id": e.id, "cause": key, "event": e.model_dump_json(exclude_none=True)}
            for e in events
        ]
        mark = {"k": key, "r": ctx.root, "t": now}
        stored_state = state.model_dump(mode="json")
        if doc is None:
            created = {
                "_id": aggregate_id,
                "version": 1,
                "state": stored_state,
                "inbox": [mark],
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
            "inbox": await self._trimmed([*doc["inbox"], mark], now),
            "outbox": outbox,
            "outbox_since": _oldest(doc, now) if outbox else None,
        }
        result = await self.collection.update_one(
            {"_id": aggregate_id, "version": doc["version"]}, {"$set": fields}
        )
        return fields if result.modified_count == 1 else None

    async def _trimmed(self, inbox: list[Any], now: datetime) -> list[Any]:
        """The inbox without the oldest keys of finished messages (or of messages older
        than the dedupe window), once it grows past twice the limit; without a record of
        finished messages, the last `inbox_size` keys."""
        if len(inbox) <= self.inbox_size:
            return inbox
        if self.finished is None:
            return inbox[-self.inbox_size :]
        if len(inbox) <= 2 * self.inbox_size:
            return inbox
        oldest = inbox[: -self.inbox_size]
        done = await self.finished.known(sorted({_entry_root(e) for e in oldest}))
        expired = now - self.finished.window
        kept = [e for e in oldest if _entry_root(e) not in done and _entry_time(e) > expired]
        return kept + inbox[-self.inbox_size :]

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

    async def create_many(
        self, ctx: Context, created: Sequence[tuple[str, S, Sequence[Fact]]]
    ) -> list[Applied[S]]:
        """Create many new aggregates under one key, in bulk (a campaign's visits, say).

        Each is stored with `ctx.key` in its inbox and its facts in its outbox, by a few
        `insert_many` calls instead of one write each. A replay finds them created: those
        are duplicates, returning what they have not published yet. An id that exists
        without this key is a bug of the caller (ids must be new) and raises.
        """
        now = self.clock.now()
        mark = {"k": ctx.key, "r": ctx.root, "t": now}
        applied: dict[str, Applied[S]] = {}
        docs: list[Document] = []
        for aggregate_id, state, facts in created:
            events = self._envelopes(aggregate_id, ctx, facts)
            entries = [
                {"id": e.id, "cause": ctx.key, "event": e.model_dump_json(exclude_none=True)}
                for e in events
            ]
            new: Document = {
                "_id": aggregate_id,
                "version": 1,
                "state": state.model_dump(mode="json"),
                "inbox": [mark],
                "outbox": entries,
                "outbox_since": now if entries else None,
            }
            docs.append(new)
            applied[aggregate_id] = Applied(self, aggregate_id, events, state=state, stored=new)
        existing = await self._insert_new(docs)
        if existing:
            async for doc in self.collection.find({"_id": {"$in": sorted(existing)}}):
                if not any(_entry_key(e) == ctx.key for e in doc["inbox"]):
                    raise ValueError(
                        f"{self.name}/{doc['_id']} exists: ids of new aggregates must be new"
                    )
                pending = [
                    CloudEvent.model_validate_json(entry["event"])
                    for entry in doc["outbox"]
                    if entry["cause"] == ctx.key
                ]
                applied[doc["_id"]] = Applied(
                    self, doc["_id"], pending, duplicate=True, state=self._state(doc), stored=doc
                )
        result = list(applied.values())
        ctx.applied.extend(result)
        return result

    async def _insert_new(self, docs: Sequence[Document]) -> set[str]:
        """Insert in chunks; return the ids that already existed."""
        existing: set[str] = set()
        for start in range(0, len(docs), BULK_CHUNK):
            chunk = docs[start : start + BULK_CHUNK]
            try:
                await self.collection.insert_many(chunk, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                existing |= {chunk[e["index"]]["_id"] for e in errors}
        return existing

    async def mark_many_published(self, applied: Sequence[Applied[S]]) -> None:
        """Drop published events from many outboxes: one update per group of documents
        whose whole outbox went out and whose version is as last seen, else one by one."""
        by_version: dict[int, list[Applied[S]]] = {}
        for one in applied:
            stored = one.stored
            sent = {e.id for e in one.events}
            if stored is not None and {entry["id"] for entry in stored["outbox"]} <= sent:
                by_version.setdefault(stored["version"], []).append(one)
            elif one.events:
                await one.mark_published()
        for version, group in by_version.items():
            ids = [one.aggregate_id for one in group]
            for start in range(0, len(ids), BULK_CHUNK):
                chunk = ids[start : start + BULK_CHUNK]
                result = await self.collection.update_many(
                    {"_id": {"$in": chunk}, "version": version},
                    {"$set": {"version": version + 1, "outbox": [], "outbox_since": None}},
                )
                if result.modified_count < len(chunk):
                    # some changed meanwhile: mark those on their current version
                    for one in group:
                        if one.aggregate_id in chunk:
                            await self.mark_published(one.aggregate_id, [e.id for e in one.events])

    async def unsent(
        self, older_than: datetime, *, skip: Sequence[str] = (), limit: int = 100
    ) -> list[Document]:
        """Documents whose outbox has waited since before `older_than` (left by a crash),
        oldest first, leaving out the aggregates in `skip`."""
        query: Document = {"outbox_since": {"$lte": older_than}}
        if skip:
            query["_id"] = {"$nin": list(skip)}
        cursor = self.collection.find(query).sort([("outbox_since", 1)]).limit(limit)
        return [doc async for doc in cursor]

    def leftovers(self, doc: Document) -> Applied[S]:
        """What a document's outbox still holds, ready to publish (raises if it is corrupt)."""
        events = [CloudEvent.model_validate_json(entry["event"]) for entry in doc["outbox"]]
        return Applied(self, doc["_id"], events, stored=doc)


def _oldest(doc: Document, now: datetime) -> datetime:
    since = doc.get("outbox_since")
    return since if isinstance(since, datetime) and doc["outbox"] else now
