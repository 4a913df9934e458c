"""Many new aggregates in bulk (`BulkCreation`, the half of `AggregateStore` that does it):
a campaign's visits, say, stored by a few `insert_many` calls instead of one write each."""

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared._kit.clock import Clock
from shared._kit.context import Applied, Context
from shared._kit.envelope import CloudEvent
from shared._kit.inbox import entry_key, inbox_entry
from shared._kit.messages import Fact, State
from shared._kit.outbox import BULK_CHUNK, entry_cause, entry_events, outbox_entries

S = TypeVar("S", bound=State)
S_co = TypeVar("S_co", bound=State, covariant=True)
Document = dict[str, Any]
DUPLICATE_KEY = 11000


class _Store(Protocol[S_co]):
    """What bulk creation needs of its store (`AggregateStore` provides it)."""

    collection: AsyncCollection[Document]
    clock: Clock

    @property
    def name(self) -> str: ...

    @property
    def keeps_keys(self) -> bool: ...

    def _state(self, doc: Document) -> S_co: ...

    def _stored(self, doc: Document) -> None: ...

    def _envelopes(
        self, aggregate_id: str, ctx: Context, facts: Sequence[Fact]
    ) -> list[CloudEvent]: ...

    async def _insert_new(self, docs: Sequence[Document]) -> set[str]: ...

    async def mark_published(
        self, aggregate_id: str, event_ids: Sequence[str], *, known: Document | None = None
    ) -> None: ...


class BulkCreation(Generic[S]):
    """The bulk-creation half of `AggregateStore`."""

    async def create_many(
        self: _Store[S], ctx: Context, created: Sequence[tuple[str, S, Sequence[Fact]]]
    ) -> list[Applied[S]]:
        """Create many new aggregates under one key, in bulk (a campaign's visits, say).

        Each is stored with `ctx.key` in its inbox and its facts in its outbox, by a few
        `insert_many` calls instead of one write each. A replay finds them created: those
        are duplicates, returning what they have not published yet. An id that exists
        without this key is a bug of the caller (ids must be new) and raises.
        """
        now = self.clock.now()
        mark = inbox_entry(ctx.key, ctx.root, now)
        applied: dict[str, Applied[S]] = {}
        docs: list[Document] = []
        for aggregate_id, state, facts in created:
            events = self._envelopes(aggregate_id, ctx, facts)
            entries = outbox_entries(events, ctx.key)
            new: Document = {
                "_id": aggregate_id,
                "version": 1,
                "state": state.model_dump(mode="json"),
                "inbox": [mark],
                "outbox": entries,
                "outbox_since": now if entries else None,
            }
            docs.append(new)
            applied[aggregate_id] = Applied(
                self, aggregate_id, events, state=state, stored=new, in_inbox=self.keeps_keys
            )
        existing = await self._insert_new(docs)
        for doc in docs:
            if doc["_id"] not in existing:
                self._stored(doc)
        if existing:
            async for doc in self.collection.find({"_id": {"$in": sorted(existing)}}):
                if not any(entry_key(e) == ctx.key for e in doc["inbox"]):
                    raise ValueError(
                        f"{self.name}/{doc['_id']} exists: ids of new aggregates must be new"
                    )
                pending = [
                    event
                    for entry in doc["outbox"]
                    if entry_cause(entry) == ctx.key
                    for event in entry_events(entry)
                ]
                applied[doc["_id"]] = Applied(
                    self,
                    doc["_id"],
                    pending,
                    duplicate=True,
                    state=self._state(doc),
                    stored=doc,
                    in_inbox=self.keeps_keys,
                )
        result = list(applied.values())
        ctx.applied.extend(result)
        return result

    async def _insert_new(self: _Store[S], docs: Sequence[Document]) -> set[str]:
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
