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

A handler that changes an aggregate, then others, then the first one again (a saga:
reserve on a roster, create the visits, settle the roster) relies on its steps becoming
durable in that order, so that a crash between them leaves the earlier ones only. Folding
the two changes of the first aggregate into one write would store the settlement before
the visits. So such a second change first writes the unit as it stands (`flush`): what a
crash can leave is then what handling the messages one by one can leave.
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

Document = dict[str, Any]


def _retrieved(task: "asyncio.Task[None]") -> None:
    """An early publishing that failed is awaited (and raises) where the unit ends; if the
    unit is dropped before (its handler failed), the failure is not reported twice."""
    if not task.cancelled():
        task.exception()


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
    # `base` came from the store's memory: if nothing is written for it, its version is
    # checked before the unit's writes stand (a refusal on a stale copy is a conflict)
    cached: bool = False
    # the results handed out for this aggregate: they learn the stored document on write
    applied: list[Any] = field(default_factory=list)
    # the messages (their root keys) whose changes are staged here, since the last write
    roots: set[str] = field(default_factory=set)
    # when it was last changed (the unit's count of changes) and written (count of flushes)
    touched: int = 0
    flushed: int = 0
    stored: Document | None = None  # as the last write stored it
    # one decision at a time on this aggregate, even from tasks a handler runs side by side
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


Before = tuple[Document | None, bool, int, frozenset[str]]


@dataclass(frozen=True)
class Checkpoint:
    # each aggregate staged or changed since, as it was before (None: not staged then);
    # filled in as they change, so a checkpoint costs nothing for the others (a batch of
    # hundreds of messages over tens of aggregates takes one per message)
    before: dict[tuple[int, str], Before | None]
    timer_ops: int
    flushes: int


@dataclass
class Unit:
    """Staged aggregates and deferred timer operations of a run of messages."""

    staged: dict[tuple[int, str], Staged] = field(default_factory=dict)
    timer_ops: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    changes: int = 0
    flushes: int = 0
    # aggregates whose inbox was trimmed in this unit (once is enough, see AggregateStore)
    trimmed: set[tuple[int, str]] = field(default_factory=set)
    # one write of the unit at a time (steps written at once may ask from parallel tasks)
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)
    # publishes what is written before the unit's end (for steps written at once; set by
    # the pipeline), and the ids it published, which the unit's end leaves out
    # (called with the unit: a unit holding a callable bound to itself is a reference
    # cycle, and every unit with all it staged would wait for the garbage collector)
    early: "Callable[[Unit, list[Any]], Awaitable[None]] | None" = None
    published: set[str] = field(default_factory=set)
    published_applied: list[Any] = field(default_factory=list)
    # the early publishing, one batch after the other (so an aggregate's events stay in
    # order), in the background of the handler
    publishing: "asyncio.Task[None] | None" = None
    # what the last checkpoint keeps of the aggregates changed since
    _before: dict[tuple[int, str], Before | None] | None = None

    def get(self, store: object, aggregate_id: str) -> Staged | None:
        return self.staged.get((id(store), aggregate_id))

    def stage(
        self, store: object, aggregate_id: str, base: Document | None, *, cached: bool = False
    ) -> Staged:
        """The staged aggregate (the first read of it wins if two tasks read it at once)."""
        key = (id(store), aggregate_id)
        staged = self.staged.get(key)
        if staged is None:
            staged = self.staged[key] = Staged(store, aggregate_id, base, base, cached=cached)
            if self._before is not None:
                self._before.setdefault(key, None)
        return staged

    def changed(self, staged: Staged, root: str, doc: Document) -> None:
        """The message `root` changed `staged` into `doc`."""
        if self._before is not None:
            self._before.setdefault(
                (id(staged.store), staged.aggregate_id),
                (staged.doc, staged.changed, len(staged.applied), frozenset(staged.roots)),
            )
        staged.doc = doc
        self.changes += 1
        staged.changed, staged.touched = True, self.changes
        staged.roots.add(root)

    def must_flush(self, staged: Staged, root: str) -> bool:
        """Whether changing `staged` again for the message `root` must first write the unit:
        that message changed it already, and other aggregates since."""
        return root in staged.roots and any(
            s.touched > staged.touched for s in self.staged.values() if s.changed
        )

    async def flush(self) -> None:
        """Write what is staged now (raises Conflict); the unit goes on from the stored
        documents."""
        async with self.writing:
            await self._flush()

    async def _flush(self) -> list[Any]:
        """Write, and return the changes written (`Applied`)."""
        written = await self.write()
        self.flushes += 1
        done: list[Any] = []
        for staged, doc in written:
            if staged.doc is doc:  # not changed again while it was being written
                done.extend(staged.applied)
                staged.base = staged.doc = staged.stored
                staged.changed, staged.cached, staged.flushed = False, False, self.flushes
                staged.applied.clear()
                staged.roots.clear()
        return done

    async def before_written_at_once(self, store: object, aggregate_id: str) -> None:
        """A step is about to write a change of its own at once: what the unit holds is
        written first (the steps before it become durable before it, as in a saga) and
        published, and the unit forgets its copy of that aggregate (the change makes it
        stale)."""
        done: list[Any] = []
        async with self.writing:
            if self.timer_ops or any(s.changed for s in self.staged.values()):
                done = await self._flush()
            found = self.staged.get((id(store), aggregate_id))
            if found is not None and not found.changed:
                del self.staged[(id(store), aggregate_id)]
        await self.publish_now(done)

    async def publish_now(self, applied: list[Any]) -> None:
        """Publish written changes before the unit's end (a step written at once, and what
        was written before it), in the background, after what was given before: a consumer
        sees a campaign's first visits while it is still deciding the others."""
        with_events = [a for a in applied if a.events]
        if self.early is None or not with_events:
            return
        self.publishing = asyncio.create_task(self._publish_after(self.publishing, with_events))
        self.publishing.add_done_callback(_retrieved)

    async def _publish_after(self, before: "asyncio.Task[None] | None", applied: list[Any]) -> None:
        if before is not None:
            await before
        assert self.early is not None
        await self.early(self, applied)
        self.published_applied.extend(applied)

    async def published_early(self) -> None:
        """Wait for the early publishing (raises what it raised)."""
        if self.publishing is not None:
            publishing = self.publishing
            await publishing
            if self.publishing is publishing:
                self.publishing = None  # (the task holds the unit: no cycle left behind)

    def trim_once(self, store: object, aggregate_id: str) -> bool:
        """True the first time it is asked for this aggregate in this unit."""
        key = (id(store), aggregate_id)
        if key in self.trimmed:
            return False
        self.trimmed.add(key)
        return True

    def defer(self, op: Callable[[], Awaitable[object]]) -> None:
        self.timer_ops.append(op)

    def checkpoint(self) -> "Checkpoint":
        """What the unit holds now, to go back to if the next message is refused (only the
        last checkpoint can be gone back to)."""
        self._before = {}
        return Checkpoint(self._before, len(self.timer_ops), self.flushes)

    def rollback(self, checkpoint: "Checkpoint") -> None:
        """Forget everything staged since `checkpoint` (documents are replaced, never
        mutated, so the ones it holds are as they were). What a flush wrote since stays
        written, as it would had the messages been handled one by one."""
        for key in list(self.staged):
            staged = self.staged[key]
            if staged.flushed > checkpoint.flushes:
                staged.doc, staged.changed = staged.base, False
                staged.applied.clear()
                staged.roots.clear()
            elif key not in checkpoint.before:
                continue  # unchanged since
            elif (before := checkpoint.before[key]) is None:
                del self.staged[key]
            else:
                staged.doc, staged.changed, kept, roots = before
                del staged.applied[kept:]
                staged.roots = set(roots)
        flushed = checkpoint.flushes != self.flushes
        del self.timer_ops[0 if flushed else checkpoint.timer_ops :]

    async def write(self) -> list[tuple[Staged, Document | None]]:
        """Check the aggregates decided on from memory without a change, write every changed
        aggregate (both raise Conflict), then run the timer operations; return what was
        written (each aggregate with the document it wrote)."""
        by_store: dict[int, list[Staged]] = {}
        kept: dict[int, list[Staged]] = {}
        for staged in self.staged.values():
            if staged.changed:
                by_store.setdefault(id(staged.store), []).append(staged)
            elif staged.cached:
                kept.setdefault(id(staged.store), []).append(staged)
        written = [(s, s.doc) for group in by_store.values() for s in group]
        for group in kept.values():
            await group[0].store.verify_unchanged(group)
        for group in by_store.values():
            await group[0].store.write_staged(group)
        ops, self.timer_ops = self.timer_ops, []
        for op in ops:
            await op()
        return written
