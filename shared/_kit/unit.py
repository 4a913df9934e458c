"""A unit of work: the changes of a run of messages, staged in memory, written at once.

The consumer hands a partition's batch to one unit: every handler runs as usual, but an
aggregate's changes are staged (read once, decided on in memory, one after the other),
and the unit writes each changed aggregate once, as one compare-and-set on the version
it read, all in a few bulk commands. Consecutive commands to one aggregate are folded
into one write with the same result as writing each.

If any aggregate changed since it was read (another partition, another replica), the
unit raises `Conflict` and the consumer handles the batch's messages again one by one:
the aggregates the unit did write recognise their keys (duplicates), the others are
decided again on fresh state, so the outcome is the one sequential handling gives.
Timer operations wait for the unit's writes, so a timer is never cancelled (or
scheduled) for a change that did not happen.
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

Document = dict[str, Any]


# the unit the running handler belongs to, for reads that are not given a context
CURRENT_UNIT: ContextVar["Unit | None"] = ContextVar("station_unit", default=None)


class Conflict(Exception):  # noqa: N818 - an expected outcome of optimistic concurrency
    """An aggregate the unit staged changed meanwhile: handle the messages one by one."""


@dataclass
class Staged:
    """One aggregate in a unit: as read (`base`, None if new) and as it will be written."""

    store: Any
    aggregate_id: str
    base: Document | None
    doc: Document | None
    changed: bool = False
    # the results handed out for this aggregate: they learn the stored document on write
    applied: list[Any] = field(default_factory=list)
    # one decision at a time on this aggregate, even from tasks a handler runs side by side
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class Checkpoint:
    staged: dict[tuple[int, str], tuple[Document | None, bool, int]]
    timer_ops: int


@dataclass
class Unit:
    """Staged aggregates and deferred timer operations of a run of messages."""

    staged: dict[tuple[int, str], Staged] = field(default_factory=dict)
    timer_ops: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    def get(self, store: object, aggregate_id: str) -> Staged | None:
        return self.staged.get((id(store), aggregate_id))

    def stage(self, store: object, aggregate_id: str, base: Document | None) -> Staged:
        """The staged aggregate (the first read of it wins if two tasks read it at once)."""
        return self.staged.setdefault(
            (id(store), aggregate_id), Staged(store, aggregate_id, base, base)
        )

    def defer(self, op: Callable[[], Awaitable[object]]) -> None:
        self.timer_ops.append(op)

    def checkpoint(self) -> "Checkpoint":
        """What the unit holds now, to go back to if the next message is refused."""
        return Checkpoint(
            {k: (s.doc, s.changed, len(s.applied)) for k, s in self.staged.items()},
            len(self.timer_ops),
        )

    def rollback(self, checkpoint: "Checkpoint") -> None:
        """Forget everything staged since `checkpoint` (documents are replaced, never
        mutated, so the ones it holds are as they were)."""
        for key in list(self.staged):
            if key not in checkpoint.staged:
                del self.staged[key]
                continue
            staged = self.staged[key]
            staged.doc, staged.changed, kept = checkpoint.staged[key]
            del staged.applied[kept:]
        del self.timer_ops[checkpoint.timer_ops :]

    async def write(self) -> None:
        """Write every changed aggregate (raises Conflict), then run the timer operations."""
        by_store: dict[int, list[Staged]] = {}
        for staged in self.staged.values():
            if staged.changed:
                by_store.setdefault(id(staged.store), []).append(staged)
        for group in by_store.values():
            await group[0].store.write_staged(group)
        for op in self.timer_ops:
            await op()
