"""Rule tests in milliseconds: a service's real wiring on in-memory stores, timers and Kafka.

    scenario = Scenario(SERVICE, response_deadline_s=60)
    await scenario.given(register("leather"), register("chem-a"))
    outcome = await scenario.when(declare_inventory("leather", "purchase", 30_000))
    [alert] = outcome.of(OverCapacityDetected)

`when` runs a message through the same pipeline a running service uses (validation,
routing, handlers, `command_rejected`), then feeds every fact the service itself reads
back to it, as its own topic would, until nothing more happens. `advance` moves the
clock and fires the timers that fall due. What is claimed about Kafka and MongoDB
(delivery, atomicity, concurrency) is tested against the real broker and server instead.
"""

import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pymongo.asynchronous.database import AsyncDatabase

from shared._kit.clock import ManualClock
from shared._kit.envelope import CloudEvent
from shared._kit.memory import MemoryCollection, MemoryDatabase
from shared._kit.messages import Command, CommandRejected, Fact, Message, State
from shared._kit.metrics import PlatformMetrics
from shared._kit.personal import copies
from shared._kit.pipeline import REJECTED, Pipeline
from shared._kit.runtime import Runtime
from shared._kit.server import Service
from shared._kit.settings import ServiceSettings

__all__ = ["MemoryCollection", "MemoryDatabase", "Outcome", "Scenario"]

S = TypeVar("S", bound=ServiceSettings)
F = TypeVar("F", bound=Message)
T = TypeVar("T", bound=State)
START = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
MAX_REACTIONS = 10_000


@dataclass
class Outcome:
    """The events one `when` (or `advance`) published, in order, reactions included."""

    events: list[CloudEvent] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def of(self, fact: type[F]) -> list[F]:
        """Every published event of that fact's type, parsed with its model."""
        return [fact.model_validate(e.data or {}) for e in self.events if e.type == fact.type]

    def one(self, fact: type[F]) -> F:
        found = self.of(fact)
        if len(found) != 1:
            raise AssertionError(f"expected one {fact.type}, got {len(found)}: {self.types}")
        return found[0]

    @property
    def rejections(self) -> list[CommandRejected]:
        return [
            CommandRejected.model_validate(e.data)
            for e in self.events
            if e.type.endswith(f".{REJECTED}")
        ]

    @property
    def rejected(self) -> str | None:
        """The reason of the one rejection, or None when nothing was rejected."""
        found = self.rejections
        if len(found) > 1:
            raise AssertionError(f"{len(found)} rejections: {found}")
        return found[0].reason if found else None


class _MemoryOutlet:
    """Kafka as a list: each fact with personal fields as its two copies (`Publisher`)."""

    def __init__(self, private: str) -> None:
        self.private = private
        # what reached each topic, in order
        self.published: list[tuple[str, CloudEvent]] = []
        # each event as the service stated it (whole), once
        self.stated: list[CloudEvent] = []

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        self.stated += events
        for to, group in copies(topic, self.private, events):
            self.published += [(to, e) for e in group]


class Scenario(Generic[S]):
    """Given/when/then over one service's real wiring, in memory."""

    def __init__(
        self,
        service: Service[S],
        *,
        start: datetime = START,
        db: AsyncDatabase[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> None:
        self.clock = ManualClock(start)
        self.db = MemoryDatabase(service.name)
        # a real database where a test claims what the server does (tests/integration);
        # the in-memory one answers the same calls
        self.database: AsyncDatabase[dict[str, Any]] = db if db is not None else self.db  # type: ignore[assignment]
        self.runtime: Runtime[S] = Runtime(
            service=service.name,
            settings=service.settings.model_validate(
                {
                    "KAFKA_BOOTSTRAP_SERVERS": "memory:9092",
                    "MONGODB_URL": "mongodb://memory/",
                    **settings,
                }
            ),
            db=self.database,
            clock=self.clock,
            timer_owner="scenario",
        )
        service.wire(self.runtime)
        self._outlet = _MemoryOutlet(self.runtime.private)
        self.pipeline = Pipeline(
            service=service.name,
            source=self.runtime.source,
            events_topic=self.runtime.events,
            outlet=self._outlet,
            metrics=PlatformMetrics(),
            clock=self.clock,
            timers=self.runtime.timers,
            processed=self.runtime.processed,
        )
        self.history: list[CloudEvent] = []

    def envelope(
        self, message: Message, *, id: str | None = None, subject: str | None = None
    ) -> tuple[str, CloudEvent]:
        """The topic and CloudEvent a message arrives as (a command from outside, or a fact)."""
        if isinstance(message, Command):
            topic, source = self.runtime.intake, "/intake/tests"
        elif isinstance(message, Fact):
            topic = self.runtime.fact_topic(type(message))
            source = f"/services/{message.prefix()}"
        else:
            raise TypeError(f"{type(message).__name__}: only commands and facts arrive on topics")
        return topic, CloudEvent(
            id=id or uuid.uuid4().hex,
            source=source,
            type=message.type,
            subject=subject or message.subject_value(),
            time=self.clock.now(),
            data=message.model_dump(mode="json"),
        )

    async def given(self, *messages: Message) -> None:
        """Messages that happened before the one under test (their outcomes are checked
        only in that none was rejected)."""
        for message in messages:
            outcome = await self.when(message)
            if outcome.rejections:
                raise AssertionError(f"given {message.type} was rejected: {outcome.rejections}")

    async def when(
        self, message: Message, *, id: str | None = None, subject: str | None = None
    ) -> Outcome:
        """One message in, and every reaction of the service to what it published."""
        return await self.when_raw(*self.envelope(message, id=id, subject=subject))

    async def when_raw(self, topic: str, event: CloudEvent) -> Outcome:
        """An event exactly as it would arrive on `topic`, however odd its data."""
        return await self._settle(deque([(topic, event)]))

    async def advance(self, delta: timedelta) -> Outcome:
        """Move the clock; fire every timer that falls due, and what follows from them."""
        self.clock.advance(delta)
        start, stated = len(self._outlet.published), len(self._outlet.stated)
        deliver = self.pipeline.timer_delivery(self.runtime.timer_routes)
        await self.runtime.timers.fire_due(deliver, on_failed=self.pipeline.timer_failed)
        fired = Outcome(self._outlet.stated[stated:])
        more = await self._settle(deque(self._outlet.published[start:]))
        return Outcome([*fired.events, *more.events])

    async def _settle(self, queue: deque[tuple[str, CloudEvent]]) -> Outcome:
        outcome = Outcome()
        handled = 0
        while queue:
            topic, event = queue.popleft()
            handled += 1
            if handled > MAX_REACTIONS:
                raise AssertionError(f"more than {MAX_REACTIONS} reactions: a loop?")
            routes = self.runtime.routes.get(topic)
            if routes is None:
                continue
            start, stated = len(self._outlet.published), len(self._outlet.stated)
            await self.pipeline.process(
                event, routes, commands=topic == self.runtime.intake, where={"topic": topic}
            )
            outcome.events += self._outlet.stated[stated:]
            self.history += self._outlet.stated[stated:]
            queue.extend(
                (out_topic, out)
                for out_topic, out in self._outlet.published[start:]
                if out_topic in self.runtime.routes
            )
        for store in self.runtime.stores:  # as the service's marking loop does each second
            await store.mark_sent()
        await self.runtime.processed.written_later()  # the records written in the background
        return outcome

    @property
    def published(self) -> list[CloudEvent]:
        """Every event published so far, whole, in order (`when`, `advance`, or a consumer's
        batch)."""
        return list(self._outlet.stated)

    def on_topic(self, topic: str) -> list[CloudEvent]:
        """What reached one topic, as its consumers read it (public or private copies)."""
        return [e for to, e in self._outlet.published if to == topic]

    async def state(self, collection: str, aggregate_id: str, state_type: type[T]) -> T | None:
        """An aggregate's stored state, read as `state_type`."""
        doc = await self.database[collection].find_one({"_id": aggregate_id})
        return None if doc is None else state_type.model_validate(doc["state"])

    async def stats(self) -> dict[str, Any]:
        return await self.runtime.stats()
