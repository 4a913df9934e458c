"""A tiny aggregate for tests of the unit of work: slots taken and settled."""

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from shared import AggregateStore, Change, Context, Fact, State
from shared._kit.clock import ManualClock
from shared._kit.envelope import CloudEvent
from shared._kit.memory import MemoryDatabase
from shared._kit.unit import Unit


class Slots(State):
    taken: list[str] = Field(default_factory=list)
    settled: list[str] = Field(default_factory=list)


class Taken(Fact, type="t.taken", subject="slot"):
    slot: str


class Timers:
    async def schedule(self, *_: Any, **__: Any) -> None:
        return None

    async def cancel(self, *_: Any, **__: Any) -> None:
        return None


def ctx_in(event_id: str, unit: Unit | None) -> Context:
    event = CloudEvent(id=event_id, source="/test", type="t.cmd", subject="s")
    clock = ManualClock(datetime(2026, 11, 28, tzinfo=UTC))
    return Context.of(event, source="/test", clock=clock, timers=Timers(), unit=unit)  # type: ignore[arg-type]


def stores(db: MemoryDatabase) -> tuple[AggregateStore[Slots], AggregateStore[Slots]]:
    clock = ManualClock(datetime(2026, 11, 28, tzinfo=UTC))
    return (
        AggregateStore(db["roster"], Slots, clock=clock),  # type: ignore[arg-type]
        AggregateStore(db["visits"], Slots, clock=clock),  # type: ignore[arg-type]
    )


def take(name: str) -> Any:
    def decide(state: Slots | None) -> Change[Slots]:
        s = state or Slots()
        return Change(Slots(taken=[*s.taken, name], settled=s.settled), [Taken(slot=name)])

    return decide


def settle(name: str) -> Any:
    def decide(state: Slots | None) -> Change[Slots]:
        s = state or Slots()
        return Change(Slots(taken=s.taken, settled=[*s.settled, name]), [])

    return decide
