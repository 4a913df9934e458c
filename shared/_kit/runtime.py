"""What a service's `wire` function builds on: settings, clock, stores, timers, handlers.

    def wire(runtime: Runtime[EnterpriseSettings]) -> None:
        enterprises = runtime.store("enterprises", EnterpriseState)
        runtime.handle(handlers.declare_inventory, ...)

A handler is registered once: its message type comes from its first parameter's
annotation (a union registers it for each member), its topic from the message's kind
(commands from the service's intake, facts from their service's events topic, or its
private topic for a reader declared `private=True` and for a service's own facts with
personal fields, timers from the timer loop). Stores made here are known to the outbox
relay and to index creation. The same runtime runs under Kafka (`server.py`) and in
memory (`testing.py`).
"""

import inspect
import types
import typing
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import timedelta
from typing import Any, Generic, TypeVar

from pymongo.asynchronous.database import AsyncDatabase

from shared._kit.aggregates import AggregateStore
from shared._kit.clock import Clock
from shared._kit.context import Context
from shared._kit.dedupe import Processed
from shared._kit.erasure import (
    EraseOrder,
    Eraser,
    Erasure,
    ErasureState,
    Expires,
    Expiry,
    PersonErasedFact,
)
from shared._kit.messages import Command, Fact, Message, State, Timer
from shared._kit.personal import personal_paths_of, publishes_personal
from shared._kit.pipeline import Route
from shared._kit.settings import ServiceSettings
from shared._kit.timers import Timers
from shared._kit.topics import events_topic, intake_topic, private_topic

Document = dict[str, Any]
S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T", bound=State)
StatsProvider = Callable[[], Awaitable[dict[str, Any]]]


async def _no_stats() -> dict[str, Any]:
    return {}


class Runtime(Generic[S]):
    """The registry one service is wired into: stores, handlers by topic, timers, stats."""

    def __init__(
        self,
        *,
        service: str,
        settings: S,
        db: AsyncDatabase[Document],
        clock: Clock,
        timer_owner: str,
    ) -> None:
        self.service = service
        self.settings = settings
        self.db = db
        self.clock = clock
        self.source = f"/services/{service}"
        self.intake = intake_topic(settings.topic_prefix)
        self.events = events_topic(settings.topic_prefix)
        self.private = private_topic(settings.topic_prefix)
        self.timers = Timers(
            db["timers"],
            service=service,
            clock=clock,
            owner=timer_owner,
            lease_s=settings.timer_lease_s,
            max_attempts=settings.handler_max_attempts,
        )
        self.processed = Processed(
            db["processed"], clock=clock, window=timedelta(days=settings.dedupe_window_days)
        )
        self.stores: list[AggregateStore[Any]] = []
        self.routes: dict[str, dict[str, Route]] = {}
        self.timer_routes: dict[str, Route] = {}
        self.stats: StatsProvider = _no_stats
        self.expiry = Expiry(timedelta(days=settings.personal_data_retention_days), now=clock.now)

    def store(self, collection: str, state_type: type[T]) -> AggregateStore[T]:
        """An aggregate collection with inbox and outbox, relayed and indexed by the platform."""
        if any(s.name == collection for s in self.stores):
            raise ValueError(f"{self.service}: the store {collection!r} is made twice")
        store = AggregateStore(
            self.db[collection], state_type, clock=self.clock, finished=self.processed
        )
        self.stores.append(store)
        return store

    def erasable(
        self,
        order: type[EraseOrder],
        erased: type[PersonErasedFact],
        *,
        with_person: Mapping[str, Collection[str]] | None = None,
    ) -> Erasure:
        """Handle `order` (erase a resident) over every store the service makes (those
        made later too), its finished messages and its timers, stating `erased`;
        `with_person`: per store, the fields of an aggregate that go with any record of
        the person in it (a household's address with its member)."""
        eraser = Eraser(self.stores, self.processed, self.timers.collection, with_person or {})
        erasure = Erasure(eraser, self.store("erasures", ErasureState))

        async def erase_person(cmd: Message, ctx: Context) -> None:
            assert isinstance(cmd, EraseOrder)
            await erasure.erase(
                cmd,
                ctx,
                lambda n: erased(erasure_id=cmd.erasure_id, records_anonymised=n),
            )

        routes = self._routes_for(order)
        if order.type in routes:
            raise ValueError(f"{self.service}: {order.type} already has a handler")
        routes[order.type] = Route(order, erase_person)
        return erasure

    def expire(self, store: AggregateStore[T], expires: Expires) -> None:
        """Drop the personal fields of the store's records `personal_data_retention_days`
        after the time `expires(state)` gives (None: not finished yet)."""
        self.expiry.add(store, expires)

    def handle(self, *handlers: Callable[[Any, Any], Awaitable[None]]) -> None:
        """Register handlers; each is routed by its first parameter's message type(s)."""
        for handler in handlers:
            for model in message_types(handler):
                routes = self._routes_for(model)
                if model.type in routes:
                    raise ValueError(f"{self.service}: {model.type} already has a handler")
                routes[model.type] = Route(model, handler)

    def report(self, stats: StatsProvider) -> None:
        """The domain counters `/stats` serves."""
        self.stats = stats

    def _routes_for(self, model: type[Message]) -> dict[str, Route]:
        own = model.prefix() == self.service
        if issubclass(model, Timer):
            if not own:
                raise ValueError(f"{self.service}: timer {model.type} belongs to another service")
            return self.timer_routes
        if issubclass(model, Command):
            if not own:
                # a service reads only its own intake (the contract)
                raise ValueError(f"{self.service}: {model.type} is another service's command")
            return self.routes.setdefault(self.intake, {})
        if issubclass(model, Fact):
            return self.routes.setdefault(self.fact_topic(model), {})
        raise TypeError(f"{model.__name__} is not a Command, Fact or Timer")

    def fact_topic(self, model: type[Message]) -> str:
        """Where this service reads a fact: the producer's events topic, or its private
        topic for a reader of personal fields; its own facts whole, from its own private
        topic where they have personal fields (the handler has the class that states them)."""
        if model.prefix() == self.service:
            return self.private if personal_paths_of(model.type) else self.events
        if model.reads_private:
            return private_topic(model.prefix())
        return events_topic(model.prefix())

    @property
    def writes_private(self) -> bool:
        """Whether some fact of this service has personal fields (for its private topic)."""
        return publishes_personal(self.service)

    @property
    def topics(self) -> list[str]:
        """Every topic the service reads or writes (checked at start-up)."""
        written = [self.events, self.private] if self.writes_private else [self.events]
        return list(dict.fromkeys([*self.routes, *written]))


def message_types(handler: Callable[..., Any]) -> list[type[Message]]:
    """The message classes a handler takes, from its first parameter's annotation."""
    name = getattr(handler, "__qualname__", repr(handler))
    params = list(inspect.signature(handler).parameters.values())
    if len(params) != 2:
        raise TypeError(f"{name}: a handler takes (message, ctx), got {len(params)} parameters")
    annotation = typing.get_type_hints(handler).get(params[0].name)
    members = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    found = [m for m in members if isinstance(m, type) and issubclass(m, Message) and m.type]
    if not found or len(found) != len(members):
        raise TypeError(f"{name}: annotate its first parameter with message classes")
    return found
