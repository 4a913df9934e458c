"""An in-memory stand-in for the few PyMongo collection calls the platform makes.

It lets the real `AggregateStore` and `Timers` run without a server, so a service's
rules are tested in milliseconds. It answers the queries and updates the platform and
the services use (`memory_query.py`), one call at a time like a server
that applies each single-document write atomically. Claims about the real server
(atomicity under concurrency, indexes, outages) are tested against FerretDB, not here.
"""

import copy
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared._kit.memory_query import MISSING, apply_update, get_path, matches

Document = dict[str, Any]


@dataclass(frozen=True)
class _UpdateResult:
    matched_count: int
    modified_count: int
    upserted_id: Any = None


@dataclass(frozen=True)
class _DeleteResult:
    deleted_count: int


@dataclass(frozen=True)
class _InsertResult:
    inserted_id: Any


class _Cursor:
    def __init__(self, docs: list[Document]) -> None:
        self._docs = docs

    def limit(self, count: int) -> "_Cursor":
        return _Cursor(self._docs[:count] if count else self._docs)

    def sort(self, keys: Sequence[tuple[str, int]]) -> "_Cursor":
        docs = list(self._docs)
        for path, direction in reversed(keys):
            docs.sort(key=_sorter(path), reverse=direction < 0)
        return _Cursor(docs)

    async def to_list(self, length: int | None = None) -> list[Document]:
        return self._docs[:length] if length else list(self._docs)

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Document]:
        for doc in self._docs:
            yield doc


def _sorter(path: str) -> Callable[[Document], tuple[int, Any]]:
    def key(doc: Document) -> tuple[int, Any]:
        value = get_path(doc, path)
        return (0, None) if value is MISSING or value is None else (1, value)

    return key


class MemoryCollection:
    """Documents by `_id`, in insertion order; unique indexes enforced on writes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Any, Document] = {}
        self.unique: list[tuple[str, ...]] = []
        self._ids = itertools.count(1)

    async def create_index(self, keys: Any, *, unique: bool = False, **_options: Any) -> str:
        fields = tuple(k for k, _ in keys) if not isinstance(keys, str) else (keys,)
        if unique:
            self.unique.append(fields)
        return "_".join(fields)

    def _check_unique(self, doc: Document) -> None:
        for fields in self.unique:
            values = tuple(get_path(doc, f) for f in fields)
            if MISSING in values:
                continue
            for other in self.docs.values():
                if (
                    other["_id"] != doc["_id"]
                    and tuple(get_path(other, f) for f in fields) == values
                ):
                    raise DuplicateKeyError(
                        f"E11000 duplicate key {dict(zip(fields, values, strict=True))}"
                    )

    def _matching(self, query: Mapping[str, Any]) -> Iterable[Document]:
        if "_id" in query and not isinstance(query["_id"], Mapping):
            doc = self.docs.get(query["_id"])
            return [doc] if doc is not None and matches(doc, query) else []
        return [doc for doc in self.docs.values() if matches(doc, query)]

    async def find_one(self, query: Mapping[str, Any] | None = None, *_: Any) -> Document | None:
        for doc in self._matching(query or {}):
            return copy.deepcopy(doc)
        return None

    def find(self, query: Mapping[str, Any] | None = None, *_: Any) -> _Cursor:
        return _Cursor([copy.deepcopy(d) for d in self._matching(query or {})])

    async def count_documents(self, query: Mapping[str, Any]) -> int:
        return sum(1 for _ in self._matching(query))

    async def insert_one(self, doc: Document) -> _InsertResult:
        stored = copy.deepcopy(doc)
        stored.setdefault("_id", next(self._ids))
        if stored["_id"] in self.docs:
            raise DuplicateKeyError(f"E11000 duplicate key _id {stored['_id']!r}")
        self._check_unique(stored)
        self.docs[stored["_id"]] = stored
        return _InsertResult(stored["_id"])

    async def insert_many(self, docs: Sequence[Document], *, ordered: bool = True) -> None:
        errors = []
        for index, doc in enumerate(docs):
            try:
                await self.insert_one(doc)
            except DuplicateKeyError as exc:
                errors.append({"index": index, "code": 11000, "errmsg": str(exc)})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": len(docs) - len(errors)})

    async def bulk_write(self, requests: Sequence[Any], *, ordered: bool = True) -> _UpdateResult:
        """`UpdateOne` and `ReplaceOne` requests only (what the kit sends), in turn."""
        matched = modified = 0
        for request in requests:
            if not isinstance(request, UpdateOne | ReplaceOne):
                raise NotImplementedError(f"{type(request).__name__} in the in-memory store")
            update = request._doc
            if not isinstance(update, Mapping):
                raise NotImplementedError("pipeline updates in the in-memory store")
            if isinstance(request, ReplaceOne):
                result = await self.replace_one(request._filter, update)
            else:
                result = await self.update_one(request._filter, update)
            matched += result.matched_count
            modified += result.modified_count
        return _UpdateResult(matched, modified)

    async def update_many(
        self, query: Mapping[str, Any], update: Mapping[str, Any]
    ) -> _UpdateResult:
        matched = modified = 0
        for doc in list(self._matching(query)):
            changed = copy.deepcopy(doc)
            apply_update(changed, update, inserting=False)
            self._check_unique(changed)
            self.docs[doc["_id"]] = changed
            matched += 1
            modified += int(changed != doc)
        return _UpdateResult(matched, modified)

    async def update_one(
        self, query: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool = False
    ) -> _UpdateResult:
        for doc in self._matching(query):
            changed = copy.deepcopy(doc)
            apply_update(changed, update, inserting=False)
            self._check_unique(changed)
            self.docs[doc["_id"]] = changed
            return _UpdateResult(1, int(changed != doc))
        if not upsert:
            return _UpdateResult(0, 0)
        created = {k: v for k, v in query.items() if not k.startswith("$")}
        apply_update(created, update, inserting=True)
        await self.insert_one(created)
        return _UpdateResult(0, 0, created.get("_id"))

    async def replace_one(
        self, query: Mapping[str, Any], replacement: Mapping[str, Any]
    ) -> _UpdateResult:
        if any(key.startswith("$") for key in replacement):
            raise ValueError("replacement document must not contain update operators")
        for doc in self._matching(query):
            changed = {"_id": doc["_id"], **copy.deepcopy(dict(replacement))}
            self._check_unique(changed)
            self.docs[doc["_id"]] = changed
            return _UpdateResult(1, int(changed != doc))
        return _UpdateResult(0, 0)

    async def find_one_and_update(
        self,
        query: Mapping[str, Any],
        update: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] | None = None,
        return_document: bool = ReturnDocument.BEFORE,
        **_options: Any,
    ) -> Document | None:
        candidates = _Cursor(list(self._matching(query)))
        if sort:
            candidates = candidates.sort(sort)
        for doc in await candidates.to_list(1):
            changed = copy.deepcopy(doc)
            apply_update(changed, update, inserting=False)
            self.docs[doc["_id"]] = changed
            return copy.deepcopy(changed if return_document == ReturnDocument.AFTER else doc)
        return None

    async def delete_many(self, query: Mapping[str, Any]) -> _DeleteResult:
        found = list(self._matching(query))
        for doc in found:
            del self.docs[doc["_id"]]
        return _DeleteResult(len(found))

    async def delete_one(self, query: Mapping[str, Any]) -> _DeleteResult:
        for doc in list(self._matching(query))[:1]:
            del self.docs[doc["_id"]]
            return _DeleteResult(1)
        return _DeleteResult(0)


class MemoryDatabase:
    """Collections by name, made on first use."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.collections: dict[str, MemoryCollection] = {}

    def __getitem__(self, name: str) -> MemoryCollection:
        return self.collections.setdefault(name, MemoryCollection(name))
