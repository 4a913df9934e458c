"""A batch of records as one unit of work (in memory): the outcome of handling them one by
one, with one write per aggregate; refusals, duplicates and conflicts inside a batch."""

from typing import Any

from shared._kit.envelope import identity_key
from shared._kit.outbox import entry_cause
from shared.testing import Scenario
from tests.unit.batch_support import CountingWrites, batch_consumer, ping_events, ping_records
from tests.unit.counter_service import SERVICE, Counter, Ping


async def test_a_batch_ends_as_one_by_one_handling_with_one_write_per_aggregate() -> None:
    batched, sequential = Scenario(SERVICE), Scenario(SERVICE)
    pings = [(f"k{n % 5}", float(n), f"id-{n}") for n in range(100)]
    for scenario in (batched, sequential):  # both aggregates exist already
        await scenario.given(*(Ping(key=f"k{n}", n=0) for n in range(5)))
    writes = CountingWrites(batched)

    await batch_consumer(batched).handle_batch(ping_records(batched, pings))
    for record in ping_records(sequential, pings):
        await batch_consumer(sequential).handle(record)

    for n in range(5):
        assert await batched.state("counters", f"k{n}", Counter) == await sequential.state(
            "counters", f"k{n}", Counter
        )
    assert [e.id for e in batched.published[5:]] == [e.id for e in sequential.published[5:]]
    assert writes.bulk == 1, "one bulk write of the 5 aggregates; their marks wait"
    assert writes.single == 0
    await batched.runtime.stores[0].mark_sent()  # the marking loop, a second later
    assert writes.bulk == 2
    assert all(d["outbox"] == [] for d in batched.db["counters"].docs.values())


async def test_published_events_leave_the_outbox_with_the_aggregates_next_write() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(*(Ping(key=f"k{n}", n=0) for n in range(5)))
    writes = CountingWrites(scenario)
    first = [(f"k{n % 5}", 1.0, f"a-{n}") for n in range(20)]
    second = [(f"k{n % 5}", 1.0, f"b-{n}") for n in range(20)]

    await batch_consumer(scenario).handle_batch(ping_records(scenario, first))
    await batch_consumer(scenario).handle_batch(ping_records(scenario, second))

    assert writes.bulk == 2, "no write of its own for marking the first batch's events"
    docs = scenario.db["counters"].docs.values()
    causes = {entry_cause(e) for d in docs for e in d["outbox"]}
    second_keys = {identity_key(e.source, e.id) for e in ping_events(scenario, second)}
    assert causes == second_keys, "only the second batch's events are left to mark"
    await scenario.runtime.stores[0].mark_sent()
    assert all(d["outbox"] == [] for d in docs)
    assert scenario.runtime.stores[0].unmarked == 0


async def test_a_refusal_inside_a_batch_undoes_only_that_message() -> None:
    scenario = Scenario(SERVICE)
    pings = [("k", 5, "a"), ("k", -10, "too-much"), ("k", 1, "b")]

    await batch_consumer(scenario).handle_batch(ping_records(scenario, pings))

    assert await scenario.state("counters", "k", Counter) == Counter(total=6)
    published = [e.type for e in scenario.published]
    assert published == ["svc.pinged", "svc.command_rejected", "svc.pinged"]


async def test_the_same_message_twice_in_one_batch_has_one_effect() -> None:
    scenario = Scenario(SERVICE)

    await batch_consumer(scenario).handle_batch(
        ping_records(scenario, [("k", 5, "a"), ("k", 5, "a")])
    )

    assert await scenario.state("counters", "k", Counter) == Counter(total=5)
    assert [e.type for e in scenario.published] == ["svc.pinged"]


async def test_a_conflict_with_another_writer_falls_back_to_one_by_one() -> None:
    scenario = Scenario(SERVICE)
    await scenario.given(Ping(key="k", n=1))
    store = scenario.runtime.stores[0]
    await store._read("k")
    # another replica writes the aggregate behind this process's back
    await scenario.db["counters"].update_one(
        {"_id": "k"}, {"$set": {"state.total": 100}, "$inc": {"version": 1}}
    )

    await batch_consumer(scenario).handle_batch(
        ping_records(scenario, [("k", 5, "a"), ("k", 5, "b")])
    )

    assert await scenario.state("counters", "k", Counter) == Counter(total=110)
    totals = [e.data["total"] for e in scenario.published[1:] if e.data]
    assert totals == [105, 110], "decided again on the state the other writer left"


async def test_an_outage_during_a_batch_is_waited_out_and_the_batch_handled_whole() -> None:
    batched, sequential = Scenario(SERVICE), Scenario(SERVICE)
    pings = [(f"k{n % 3}", float(n), f"id-{n}") for n in range(30)]
    collection = batched.db["counters"]
    real_bulk_write, outages = collection.bulk_write, 0

    async def away_twice(*args: Any, **kwargs: Any) -> Any:
        nonlocal outages
        if outages < 2:
            outages += 1
            raise ConnectionError("the database is away")
        return await real_bulk_write(*args, **kwargs)

    for scenario in (batched, sequential):
        await scenario.given(*(Ping(key=f"k{n}", n=0) for n in range(3)))
    collection.bulk_write = away_twice  # type: ignore[method-assign]
    consumer = batch_consumer(batched)

    await consumer.handle_batch(ping_records(batched, pings))
    for record in ping_records(sequential, pings):
        await batch_consumer(sequential).handle(record)

    assert outages == 2
    for n in range(3):
        assert await batched.state("counters", f"k{n}", Counter) == await sequential.state(
            "counters", f"k{n}", Counter
        )
    assert [e.id for e in batched.published[3:]] == [e.id for e in sequential.published[3:]]
    retried = consumer.metrics.retries.labels("svc", "transient")._value.get()
    assert retried == 2
