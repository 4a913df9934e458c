"""The context of one message being handled: its identity, its clock, what it changed.

A handler receives the message's payload and a `Context`. Every aggregate change it makes
goes through `AggregateStore.apply(aggregate_id, ctx, decide)`, which records the change
under `ctx.key` (the idempotency key) and collects it here; the pipeline publishes what
was collected once the handler returns. A flow over several aggregates uses
`ctx.step(name)`: a derived key per step, so a redelivery finishes what a crash left.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from shared._kit.clock import Clock
from shared._kit.envelope import CloudEvent, derive_id, identity_key
from shared._kit.messages import Fact, Timer
from shared._kit.timers import Timers
from shared._kit.unit import Unit

S = TypeVar("S")


class _Outbox(Protocol):
    async def mark_published(
        self, aggregate_id: str, event_ids: Sequence[str], *, known: dict[str, Any] | None
    ) -> None: ...


@dataclass
class Applied(Generic[S]):
    """One aggregate change made under a key: the events to publish now (new or left unsent)."""

    store: _Outbox
    aggregate_id: str
    events: list[CloudEvent] = field(default_factory=list)
    duplicate: bool = False
    state: S | None = None
    # the document's version and outbox as last seen, so marking sent needs no re-read
    stored: dict[str, Any] | None = None
    # the aggregate's inbox holds the message's key once this change is written (a change
    # made under it, or one found there already): proof enough that it was handled
    in_inbox: bool = False

    async def mark_published(self) -> None:
        if self.events:
            await self.store.mark_published(
                self.aggregate_id, [e.id for e in self.events], known=self.stored
            )


@dataclass
class Context:
    """One message in hand: the event, its idempotency key and the changes made under it."""

    event: CloudEvent
    key: str
    source: str
    clock: Clock
    timers: Timers
    applied: list[Applied[Any]] = field(default_factory=list)
    # the identity of the message itself, shared by every step of it
    root: str = ""
    # the unit of work the message is handled in (None: every change is written at once)
    unit: Unit | None = None
    # this step's changes are written as soon as they are decided, not with the unit
    at_once: bool = False

    def __post_init__(self) -> None:
        if not self.root:
            self.root = self.key

    @classmethod
    def of(
        cls,
        event: CloudEvent,
        *,
        source: str,
        clock: Clock,
        timers: Timers,
        unit: Unit | None = None,
    ) -> "Context":
        """The context of an event: its key is its CloudEvents identity (source and id)."""
        key = identity_key(event.source, event.id)
        return cls(event, key, source, clock, timers, unit=unit)

    def step(self, name: str, *, at_once: bool = False) -> "Context":
        """The same message, one step of a flow: a key of its own, the same collected changes.

        `at_once`: the step's changes are written as soon as each is decided (what the
        message changed before is written first), not with the rest of the unit. For a flow
        of large documents, so writing one overlaps deciding the next; their events are
        published with the unit's, as usual."""
        return Context(
            self.event,
            derive_id(self.key, name),
            self.source,
            self.clock,
            self.timers,
            self.applied,
            self.root,
            self.unit,
            at_once,
        )

    def derive(self, role: str) -> str:
        """An id derived from this message and a role: the same on every redelivery."""
        return derive_id(self.key, role)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def duplicate(self) -> bool:
        """True when every change made so far had been made before (a redelivery)."""
        return bool(self.applied) and all(a.duplicate for a in self.applied)

    def envelope(self, fact: Fact, role: str) -> CloudEvent:
        """The CloudEvent stating `fact` as an effect of this message."""
        subject = fact.subject_value()
        if subject is None:
            raise TypeError(f"{type(fact).__name__} declares no subject field")
        return CloudEvent(
            id=derive_id(self.key, role),
            source=self.source,
            type=fact.type,
            subject=subject,
            time=self.clock.now(),
            correlationid=self.event.correlation,
            causationid=self.event.id,
            data=fact.model_dump(mode="json"),
        )

    async def schedule(self, timer_id: str, timer: Timer, *, at: datetime) -> None:
        """A durable timer delivering `timer` at `at` (idempotent: a replay adds nothing)."""
        await self.timers.schedule(
            timer_id, timer, due_at=at, correlation_id=self.event.correlation
        )

    async def cancel(self, timer_id: str) -> bool:
        """Cancel a timer whose reason is gone; True if it was still pending."""
        return await self.timers.cancel(timer_id)
