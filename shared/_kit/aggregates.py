"""Inbox and outbox inside the aggregate's own document: effects exactly once, no transactions.

One document per aggregate holds its typed state, the idempotency keys it applied last
(inbox) and the events it emitted but has not yet seen published (outbox). Every change
is one compare-and-set on `version`, so the state change, the inbox mark and the outbox
entries land together or not at all, on FerretDB (no transactions) as on MongoDB.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from shared._kit.clock import Clock
from shared._kit.context import Applied, Context
from shared._kit.creation import BulkCreation
from shared._kit.envelope import CloudEvent
from shared._kit.inbox import FinishedKeys, entry_key, inbox_entry, trimmed
from shared._kit.marking import OutboxMarks
from shared._kit.messages import Fact, Rejected, State
from shared._kit.outbox import (
    entry_cause,
    entry_events,
    entry_ids,
    outbox_entries,
    without_sent,
)
from shared._kit.unit import CURRENT_UNIT, Unit
from shared._kit.writing import StoreWrites

Document = dict[str, Any]
S = TypeVar("S", bound=State)
# The inbox keeps the keys of messages in flight; once a message is recorded as finished
# (shared/_kit/dedupe.py) its keys may go. Past this many entries, the oldest half are
# dropped if finished (one query per that many writes); a longer inbox makes every write
# of a busy aggregate slower (measured on FerretDB: ~0.1 ms per entry).
DEFAULT_INBOX_SIZE = 8
DEFAULT_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class Change(Generic[S]):
    """What a decision does to an aggregate: its whole new state and the facts it states."""

    state: S
    facts: Sequence[Fact] = ()


Decide = Callable[[S | None], Change[S] | None]


class AggregateStore(BulkCreation[S], OutboxMarks[S], StoreWrites[S]):
    """One collection of aggregates of one state type, with inbox and outbox.

    Documents read or written recently are kept in memory (at most `cache_size`): the
    compare-and-set on `version` stays the only authority, so a stale copy only costs a
    failed write and a fresh read. A decision that writes nothing (a refusal, nothing to
    do) is not checked by any write: when it was taken on a cached copy, the version is
    read again before it stands (`_apply_now`, `verify_unchanged`), so another replica's
    change is never ignored.
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        state_type: type[S],
        *,
        clock: Clock,
        finished: FinishedKeys | None = None,
        inbox_size: int = DEFAULT_INBOX_SIZE,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.collection = collection
        self.state_type = state_type
        self.clock = clock
        self.finished = finished
        self.inbox_size = inbox_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Document] = OrderedDict()
        # events published but still in their stored outbox: dropped by the aggregate's
        # next write, or by `mark_sent` (run every second) if none comes
        self._sent: dict[str, set[str]] = {}
        # since when (monotonic) each aggregate of `_sent` has held published events
        self._sent_since: dict[str, float] = {}
        # held while this process writes documents of the store: `mark_sent` compares
        # the versions it remembers, so a write of ours in flight would make it fail and
        # fall back to reading each document again (one query each, and the next unit
        # reading them too: measured up to 150 ms added to a cycle at 600 commands/s)
        self.writing = asyncio.Lock()
        self._watchers: list[Callable[[str, S], None]] = []

    @property
    def name(self) -> str:
        return self.collection.name

    async def create_indexes(self) -> None:
        await self.collection.create_index([("outbox_since", ASCENDING)])

    @property
    def keeps_keys(self) -> bool:
        """Whether this store's inboxes keep a key until its message is recorded as
        finished (they can then stand for the record: `Applied.in_inbox`); without a
        record of finished messages they keep only the last `inbox_size` keys."""
        return self.finished is not None

    def _state(self, doc: Document) -> S:
        return self.state_type.model_validate(doc["state"])

    def _remember(self, doc: Document) -> None:
        self._cache[doc["_id"]] = doc
        self._cache.move_to_end(doc["_id"])
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def watch(self, watcher: Callable[[str, S], None]) -> None:
        """Call `watcher(aggregate_id, state)` after each change this process stores: the
        way to keep an in-memory view of the aggregates (a read model) up to date."""
        self._watchers.append(watcher)

    def _stored(self, doc: Document) -> None:
        self._remember(doc)
        sent = self._sent.get(doc["_id"])
        if sent is not None:  # what this write left out of the outbox is marked for good
            self._drop_sent(doc["_id"], sent - {i for e in doc["outbox"] for i in entry_ids(e)})
        if self._watchers:
            state = self._state(doc)
            for watcher in self._watchers:
                watcher(str(doc["_id"]), state)

    def forget(self, aggregate_id: str) -> None:
        self._cache.pop(aggregate_id, None)

    async def _read(self, aggregate_id: str) -> tuple[Document | None, bool]:
        """The document (from memory if kept there), and whether it came from memory."""
        cached = self._cache.get(aggregate_id)
        if cached is not None:
            return cached, True
        doc = await self.collection.find_one({"_id": aggregate_id})
        if doc is not None:
            self._remember(doc)
        return doc, False

    async def load(self, aggregate_id: str, ctx: Context | None = None) -> S | None:
        """The aggregate's state, or None if it does not exist; within a unit of work, as the
        unit holds it (the running handler's unit when no context is given)."""
        unit = ctx.unit if ctx is not None else CURRENT_UNIT.get()
        staged = unit.get(self, aggregate_id) if unit is not None else None
        doc = (
            staged.doc
            if staged is not None
            else await self.collection.find_one({"_id": aggregate_id})
        )
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
        Within a unit of work (`ctx.unit`) the change is staged and written with the unit,
        unless the step is to be written at once (`ctx.at_once`).
        """
        if ctx.unit is not None and not ctx.at_once:
            applied = await self._stage(aggregate_id, ctx, ctx.unit, decide)
        else:
            if ctx.unit is not None:
                await ctx.unit.before_written_at_once(self, aggregate_id)
            applied = await self._apply_now(aggregate_id, ctx, decide)
            if ctx.unit is not None:
                await ctx.unit.publish_now([applied])
        ctx.applied.append(applied)
        return applied

    async def _apply_now(self, aggregate_id: str, ctx: Context, decide: Decide[S]) -> Applied[S]:
        while True:
            doc, cached = await self._read(aggregate_id)
            try:
                applied, new = await self._decide(aggregate_id, doc, ctx, decide)
            except Rejected:
                if cached and doc is not None and await self._stale(doc):
                    continue  # refused on an old copy: decide again on the stored one
                raise
            if new is None:
                if cached and doc is not None and await self._stale(doc):
                    continue
                return applied
            stored = await self._write(aggregate_id, doc, new)
            if stored is not None:
                applied.stored = stored
                return applied
            self.forget(aggregate_id)

    async def _stage(
        self, aggregate_id: str, ctx: Context, unit: Unit, decide: Decide[S]
    ) -> Applied[S]:
        staged = unit.get(self, aggregate_id)
        if staged is None:
            doc, cached = await self._read(aggregate_id)
            staged = unit.stage(self, aggregate_id, doc, cached=cached)
        elif unit.must_flush(staged, ctx.root):
            await unit.flush()  # a saga's later step: its earlier ones are stored first
        async with staged.lock:
            applied, new = await self._decide(aggregate_id, staged.doc, ctx, decide)
            if new is not None:
                unit.changed(staged, ctx.root, new)
                staged.applied.append(applied)
        return applied

    async def _decide(
        self, aggregate_id: str, doc: Document | None, ctx: Context, decide: Decide[S]
    ) -> tuple[Applied[S], Document | None]:
        """The result of `decide` on `doc`, and the document to store (None: nothing to)."""
        if doc is not None and any(entry_key(e) == ctx.key for e in doc["inbox"]):
            pending = [
                event
                for entry in doc["outbox"]
                if entry_cause(entry) == ctx.key
                for event in entry_events(entry)
            ]
            state = self._state(doc)
            return Applied(
                self,
                aggregate_id,
                pending,
                duplicate=True,
                state=state,
                stored=doc,
                in_inbox=self.keeps_keys,
            ), None
        current = None if doc is None else self._state(doc)
        change = decide(current)
        if change is None:
            return Applied(self, aggregate_id, state=current, stored=doc), None
        events = self._envelopes(aggregate_id, ctx, change.facts)
        now = self.clock.now()
        entries = outbox_entries(events, ctx.key)
        mark = inbox_entry(ctx.key, ctx.root, now)
        sent = self._sent.get(aggregate_id, ())
        kept = without_sent(doc["outbox"], sent) if doc else []
        outbox = [*kept, *entries]
        new = {
            "_id": aggregate_id,
            "version": doc["version"] if doc else 0,
            "state": change.state.model_dump(mode="json"),
            "inbox": await trimmed(
                [*(doc["inbox"] if doc else []), mark],
                size=self.inbox_size,
                finished=self.finished,
                now=now,
                first_in_unit=partial(_first_trim, ctx.unit, self, aggregate_id),
            ),
            "outbox": outbox,
            "outbox_since": (_oldest(doc, now) if kept and doc else now) if outbox else None,
        }
        applied = Applied(
            self, aggregate_id, events, state=change.state, stored=new, in_inbox=self.keeps_keys
        )
        return applied, new

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


def _first_trim(unit: Unit | None, store: object, aggregate_id: str) -> bool:
    return unit is None or unit.trim_once(store, aggregate_id)


def _oldest(doc: Document, now: datetime) -> datetime:
    since = doc.get("outbox_since")
    return since if isinstance(since, datetime) and doc["outbox"] else now
