"""Dropping published events from outboxes: with the aggregate's next write, or by a
loop (`mark_sent`) for the aggregates not written again (`OutboxMarks`, the half of
`AggregateStore` that does it)."""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from shared._kit.context import Applied
from shared._kit.messages import State
from shared._kit.outbox import BULK_CHUNK, entry_events, holds_any, without_sent

S = TypeVar("S", bound=State)
Document = dict[str, Any]


def _now() -> float:
    return time.monotonic()


class _Documents(Protocol):
    """What the outbox needs of its store (`AggregateStore` provides it)."""

    collection: AsyncCollection[Document]
    _cache: OrderedDict[str, Document]
    _sent: dict[str, set[str]]  # events published but still in their stored outbox
    _sent_since: dict[str, float]  # since when (monotonic) an aggregate has held them
    writing: asyncio.Lock  # held while this process writes the store's documents

    def _remember(self, doc: Document) -> None: ...

    def _stored(self, doc: Document) -> None: ...

    def forget(self, aggregate_id: str) -> None: ...

    async def mark_published(
        self, aggregate_id: str, event_ids: Sequence[str], *, known: Document | None = None
    ) -> None: ...

    def _drop_sent(self, aggregate_id: str, ids: set[str]) -> None: ...


class OutboxMarks(Generic[S]):
    """The outbox half of `AggregateStore`."""

    async def mark_published(
        self: _Documents,
        aggregate_id: str,
        event_ids: Sequence[str],
        *,
        known: Document | None = None,
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
            if doc is None or not holds_any(doc["outbox"], sent):
                return
            fields = _published(doc, sent)
            result = await self.collection.update_one(
                {"_id": aggregate_id, "version": doc["version"]}, {"$set": fields}
            )
            if result.modified_count == 1:
                self._remember({**doc, **fields})
                return
            self.forget(aggregate_id)
            doc = None

    async def mark_many_published(self: _Documents, applied: Sequence[Applied[Any]]) -> None:
        """Drop published events from many outboxes, each a compare-and-set on the version
        last seen, sent in bulk; where one lost to a newer write, that one is done alone."""
        latest: dict[str, tuple[Document, set[str]]] = {}
        for one in applied:
            if not one.events or one.stored is None:
                continue
            doc, sent = latest.get(one.aggregate_id, (one.stored, set()))
            if one.stored["version"] > doc["version"]:
                doc = one.stored
            latest[one.aggregate_id] = (doc, sent | {e.id for e in one.events})
        items = list(latest.items())
        for start in range(0, len(items), BULK_CHUNK):
            chunk = items[start : start + BULK_CHUNK]
            marked = [(doc, _published(doc, sent)) for _, (doc, sent) in chunk]
            if await _set_all(self.collection, marked):
                for doc, fields in marked:
                    self._remember({**doc, **fields})
                continue
            for aggregate_id, (_, sent) in chunk:  # some lost to newer writes
                self.forget(aggregate_id)
                await self.mark_published(aggregate_id, sorted(sent))

    def published(self: _Documents, applied: Sequence[Applied[Any]]) -> None:
        """These events are on Kafka: drop them from their outboxes with the aggregate's
        next write, or with `mark_sent` (one bulk write for all) if none comes first.
        Until then a crash only means the relay publishes them again, with their ids."""
        now = _now()
        for one in applied:
            if one.events:
                self._sent.setdefault(one.aggregate_id, set()).update(e.id for e in one.events)
                self._sent_since.setdefault(one.aggregate_id, now)

    @property
    def unmarked(self: _Documents) -> int:
        """How many aggregates hold published events in their stored outbox."""
        return len(self._sent)

    async def mark_sent(self: _Documents, *, older_than_s: float = 0.0) -> None:
        """Drop every published event still in a stored outbox (compare-and-sets in bulk on
        the documents as last stored; one that changed meanwhile is read again).

        `older_than_s` leaves out the aggregates that have held published events for less
        than that: those written again soon drop them with that write, at no cost. (The
        marking loop passes half its period: under load, every aggregate in use is
        rewritten well within it, and marking them all each second was a bulk write of
        60 documents that the next unit's write waited for: measured at 700 commands/s
        over 60 enterprises, ~40 ms a second, and +6 ms on the writes of the batches it
        overlapped, one in twenty.)

        The version is not raised: only published events leave, so a unit that read the
        document before still writes over it (its outbox lists what it read, less what
        it knew was published), and this marking never makes it conflict. At worst a
        writer that did not know re-adds an event, which is then published again with
        its id, and marked again."""
        due = _now() - older_than_s
        pending = [
            (a, set(ids))
            for a, ids in self._sent.items()
            if older_than_s <= 0 or self._sent_since.get(a, 0.0) <= due
        ]
        for start in range(0, len(pending), BULK_CHUNK):
            chunk = pending[start : start + BULK_CHUNK]
            async with self.writing:  # the versions remembered are the stored ones
                known = [(a, self._cache.get(a), ids) for a, ids in chunk]
                stale = [(a, ids) for a, doc, ids in known if doc is None]
                marked = [
                    (doc, _unsent(doc, ids))
                    for _, doc, ids in known
                    if doc is not None and holds_any(doc["outbox"], ids)
                ]
                if marked:
                    if await _set_all(self.collection, marked):
                        for doc, fields in marked:
                            self._stored({**doc, **fields})
                    else:  # some lost to another process's writes: those are done alone
                        stale += [
                            (doc["_id"], self._sent.get(doc["_id"], set())) for doc, _ in marked
                        ]
            for aggregate_id, ids in known_without_outbox(known):
                self._drop_sent(aggregate_id, ids)
            for aggregate_id, ids in stale:
                self.forget(aggregate_id)
                await self.mark_published(aggregate_id, sorted(ids))
                self._drop_sent(aggregate_id, ids)

    def _drop_sent(self: _Documents, aggregate_id: str, ids: set[str]) -> None:
        sent = self._sent.get(aggregate_id)
        if sent is not None:
            sent -= ids
            if not sent:
                del self._sent[aggregate_id]
                self._sent_since.pop(aggregate_id, None)

    async def unsent(
        self: _Documents, older_than: datetime, *, skip: Sequence[str] = (), limit: int = 100
    ) -> list[Document]:
        """Documents whose outbox has waited since before `older_than` (left by a crash),
        oldest first, leaving out the aggregates in `skip`."""
        query: Document = {"outbox_since": {"$lte": older_than}}
        if skip:
            query["_id"] = {"$nin": list(skip)}
        cursor = self.collection.find(query).sort([("outbox_since", 1)]).limit(limit)
        return [doc async for doc in cursor]

    def leftovers(self: _Documents, doc: Document) -> Applied[S]:
        """What a document's outbox still holds that this process has not published, ready
        to publish (raises if it is corrupt). Events published here wait up to 1.5 marking
        periods to leave the outbox, longer than a short relay grace: not sent twice."""
        sent = self._sent.get(doc["_id"], set())
        events = [e for entry in doc["outbox"] for e in entry_events(entry) if e.id not in sent]
        return Applied(self, doc["_id"], events, stored=doc)


async def mark_all_published(applied: Sequence[Applied[Any]]) -> None:
    """Mark what was published, grouped by store (bulk), each aggregate once."""
    by_store: dict[int, tuple[Any, list[Applied[Any]]]] = {}
    for one in applied:
        if one.events:
            by_store.setdefault(id(one.store), (one.store, []))[1].append(one)
    for store, group in by_store.values():
        if hasattr(store, "mark_many_published") and len(group) > 1:
            await store.mark_many_published(group)
        else:
            for one in group:
                await one.mark_published()


def published_later(applied: Sequence[Applied[Any]]) -> None:
    """Tell each store which of its aggregates' events are published (see `published`)."""
    by_store: dict[int, tuple[Any, list[Applied[Any]]]] = {}
    for one in applied:
        if one.events:
            by_store.setdefault(id(one.store), (one.store, []))[1].append(one)
    for store, group in by_store.values():
        store.published(group)


async def _set_all(
    collection: AsyncCollection[Document], marked: Sequence[tuple[Document, Document]]
) -> bool:
    """Set `fields` on each document if it still has the version it had; True if all did.

    Each is sent as the whole document it becomes (a replacement filtered by `_id` and
    version): the same on MongoDB, and a write FerretDB (patched) makes without reading
    the stored document. `doc` is the whole document as last stored; a marking never
    raises the version, and only the outbox fields differ between two that share one."""
    ops = [
        ReplaceOne(
            {"_id": doc["_id"], "version": doc["version"]},
            {**{k: v for k, v in doc.items() if k != "_id"}, **fields},
        )
        for doc, fields in marked
    ]
    result = await collection.bulk_write(ops, ordered=False)
    return result.modified_count == len(ops)


def _unsent(doc: Document, sent: set[str]) -> Document:
    """The outbox fields without `sent` events (the version stays: see `mark_sent`)."""
    outbox = without_sent(doc["outbox"], sent)
    return {"outbox": outbox, "outbox_since": doc["outbox_since"] if outbox else None}


def _published(doc: Document, sent: set[str]) -> Document:
    """The fields that drop `sent` events from a document's outbox (and bump its version)."""
    outbox = without_sent(doc["outbox"], sent)
    return {
        "version": doc["version"] + 1,
        "outbox": outbox,
        "outbox_since": doc["outbox_since"] if outbox else None,
    }


def known_without_outbox(
    known: Sequence[tuple[str, Document | None, set[str]]],
) -> list[tuple[str, set[str]]]:
    """The aggregates whose stored outbox (as last seen) holds none of their sent events."""
    return [
        (a, ids) for a, doc, ids in known if doc is not None and not holds_any(doc["outbox"], ids)
    ]
