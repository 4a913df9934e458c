"""What the batching tests share: a consumer of the counter service's intake over a
Scenario, pings as CloudEvents and as Kafka records, and a count of store writes."""

from collections.abc import Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord

from shared._kit.consuming import Consumer, RetryPolicy
from shared._kit.failures import Failures
from shared._kit.metrics import PlatformMetrics
from shared.testing import Scenario
from tests.unit.counter_service import Ping


class NoDeadLetters:
    async def dead_letter(self, record: Any, *, reason: str, error: str) -> None:
        raise AssertionError(f"nothing here should be dead-lettered: {reason} {error}")


def batch_consumer(scenario: Scenario[Any]) -> Consumer:
    return Consumer(
        scenario.pipeline,
        "svc.intake",
        scenario.runtime.routes["svc.intake"],
        True,
        NoDeadLetters(),
        PlatformMetrics(),
        RetryPolicy(Failures().transient, initial_backoff_s=0),
    )


def ping_events(scenario: Scenario[Any], pings: Sequence[tuple[str, float, str]]) -> list[Any]:
    return [scenario.envelope(Ping(key=k, n=n), id=i)[1] for k, n, i in pings]


def ping_records(scenario: Scenario[Any], pings: Sequence[tuple[str, float, str]]) -> list[Any]:
    records = []
    for offset, (key, n, event_id) in enumerate(pings):
        _, event = scenario.envelope(Ping(key=key, n=n), id=event_id)
        records.append(
            ConsumerRecord(
                "svc.intake", 0, offset, 0, 0, key.encode(), event.to_bytes(), None, 0, 0, []
            )
        )
    return records


class CountingWrites:
    """Counts the compare-and-set writes that reach the in-memory collection."""

    def __init__(self, scenario: Scenario[Any]) -> None:
        self.collection = scenario.db["counters"]
        self.single = self.bulk = 0
        self.in_bulk = False
        update_one, bulk_write = self.collection.update_one, self.collection.bulk_write
        replace_one = self.collection.replace_one

        async def counted_update_one(*args: Any, **kwargs: Any) -> Any:
            self.single += not self.in_bulk
            return await update_one(*args, **kwargs)

        async def counted_replace_one(*args: Any, **kwargs: Any) -> Any:
            self.single += not self.in_bulk
            return await replace_one(*args, **kwargs)

        async def counted_bulk_write(*args: Any, **kwargs: Any) -> Any:
            self.bulk, self.in_bulk = self.bulk + 1, True
            try:
                return await bulk_write(*args, **kwargs)
            finally:
                self.in_bulk = False

        self.collection.update_one = counted_update_one  # type: ignore[method-assign]
        self.collection.replace_one = counted_replace_one  # type: ignore[method-assign]
        self.collection.bulk_write = counted_bulk_write  # type: ignore[method-assign]
