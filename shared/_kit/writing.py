"""Writing a store's documents: each change a compare-and-set on `version`, a unit's
changes in bulk (`StoreWrites`, the half of `AggregateStore` that writes), and the checks
that a document decided on from memory has not moved since."""

import asyncio
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared._kit.messages import State
from shared._kit.outbox import BULK_CHUNK
from shared._kit.unit import Conflict, Staged

S = TypeVar("S", bound=State)
Document = dict[str, Any]


class _Store(Protocol):
    """What writing needs of its store (`AggregateStore` provides it)."""

    collection: AsyncCollection[Document]
    writing: asyncio.Lock

    @property
    def name(self) -> str: ...

    def _stored(self, doc: Document) -> None: ...

    def forget(self, aggregate_id: str) -> None: ...

    async def _insert_new(self, docs: Sequence[Document]) -> set[str]: ...

    async def _written(self, aggregate_id: str, doc: Document | None, stored: Document) -> bool: ...

    async def _write_staged(self, staged: Sequence[Staged]) -> None: ...


class StoreWrites(Generic[S]):
    """The writing half of `AggregateStore`."""

    async def _stale(self: _Store, doc: Document) -> bool:
        """Whether the stored document moved past `doc` (then it is forgotten)."""
        found = await self.collection.find_one({"_id": doc["_id"]}, {"version": 1})
        if found is not None and found["version"] == doc["version"]:
            return False
        self.forget(doc["_id"])
        return True

    async def verify_unchanged(self: _Store, staged: Sequence[Staged]) -> None:
        """Raise Conflict if any of these aggregates, read from memory and decided on
        without a write, changed in the database since (one query for all)."""
        expected = {s.aggregate_id: s.base["version"] for s in staged if s.base is not None}
        for start in range(0, len(expected), BULK_CHUNK * 10):
            ids = list(expected)[start : start + BULK_CHUNK * 10]
            found = {
                doc["_id"]: doc["version"]
                async for doc in self.collection.find({"_id": {"$in": ids}}, {"version": 1})
            }
            moved = [i for i in ids if found.get(i) != expected[i]]
            if moved:
                for aggregate_id in moved:
                    self.forget(aggregate_id)
                raise Conflict(f"{self.name}: an aggregate decided on changed meanwhile")

    async def _write(
        self: _Store, aggregate_id: str, doc: Document | None, new: Document
    ) -> Document | None:
        """Store `new` if nobody changed the document since `doc`; return what is stored."""
        stored = {**new, "version": (doc["version"] if doc else 0) + 1}
        async with self.writing:
            if not await self._written(aggregate_id, doc, stored):
                return None
            self._stored(stored)
        return stored

    async def _written(
        self: _Store, aggregate_id: str, doc: Document | None, stored: Document
    ) -> bool:
        if doc is None:
            try:
                await self.collection.insert_one(stored)
            except DuplicateKeyError:
                return False  # created concurrently: decide again on what is there now
            return True
        fields = {k: v for k, v in stored.items() if k != "_id"}
        result = await self.collection.replace_one(
            {"_id": aggregate_id, "version": doc["version"]}, fields
        )
        return result.modified_count == 1

    async def write_staged(self: _Store, staged: Sequence[Staged]) -> None:
        """Write a unit's changed aggregates of this store: new ones with `insert_many`, the
        others as compare-and-sets in bulk; raise Conflict if any changed meanwhile."""
        async with self.writing:
            await self._write_staged(staged)

    async def _write_staged(self: _Store, staged: Sequence[Staged]) -> None:
        created = [s for s in staged if s.base is None]
        updated = [s for s in staged if s.base is not None]
        conflict = False
        if created:
            docs = [{**s.doc, "version": 1} for s in created if s.doc is not None]
            conflict |= bool(await self._insert_new(docs))
        for start in range(0, len(updated), BULK_CHUNK):
            chunk = updated[start : start + BULK_CHUNK]
            # whole documents: FerretDB (patched) then writes a compare-and-set without
            # reading and decoding the stored one first
            ops = [
                ReplaceOne(
                    {"_id": s.aggregate_id, "version": s.base["version"]},
                    {**_fields(s.doc), "version": s.base["version"] + 1},
                )
                for s in chunk
                if s.base is not None and s.doc is not None
            ]
            result = await self.collection.bulk_write(ops, ordered=False)
            conflict |= result.modified_count != len(ops)
        if conflict:
            for s in staged:
                self.forget(s.aggregate_id)
            raise Conflict(f"{self.name}: an aggregate changed since the unit read it")
        for s in staged:
            if s.doc is None:
                continue
            stored = {**s.doc, "version": (s.base["version"] if s.base else 0) + 1}
            self._stored(stored)
            s.stored = stored
            for applied in s.applied:
                applied.stored = stored


def _fields(doc: Document | None) -> Document:
    return {k: v for k, v in (doc or {}).items() if k not in ("_id", "version")}
