"""How a batch is polled (no nap after an empty poll, a short linger after a full one), and
how the end of a unit runs its two last steps side by side."""

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from shared._kit.intake import WaitingBatchSubscriber
from shared._kit.loops import both


class _Consumer:
    """`getmany` answering from a script, remembering how it was asked."""

    def __init__(self, *answers: dict[str, list[str]]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        self.asked.append((timeout_ms, max_records))
        return self.answers.pop(0) if self.answers else {}


def _subscriber(linger_ms: int = 3, max_records: int = 10) -> Any:
    return SimpleNamespace(batch_timeout_ms=50, max_records=max_records, linger_ms=linger_ms)


async def _poll(subscriber: Any, consumer: _Consumer) -> tuple[str, ...]:
    return await WaitingBatchSubscriber.get_msg(subscriber, consumer)


@pytest.fixture(autouse=True)
def _no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: Any) -> None:
        raise AssertionError("the poll slept")

    monkeypatch.setattr("anyio.sleep", refuse)
    monkeypatch.setattr("asyncio.sleep", refuse)


async def test_an_empty_poll_returns_at_once_without_a_nap() -> None:
    consumer = _Consumer({})
    assert await _poll(_subscriber(), consumer) == ()
    assert consumer.asked == [(50, 10)]


async def test_a_batch_lingers_once_for_what_was_fetched_after_it_and_keeps_order() -> None:
    consumer = _Consumer({"p0": ["a1", "a2"], "p1": ["b1"]}, {"p0": ["a3"], "p2": ["c1"]})
    assert await _poll(_subscriber(), consumer) == ("a1", "a2", "b1", "a3", "c1")
    assert consumer.asked == [(50, 10), (3, 7)], "the linger asks only for the room left"


async def test_a_full_batch_or_no_linger_polls_once() -> None:
    full = _Consumer({"p0": [f"a{n}" for n in range(10)]}, {"p0": ["late"]})
    assert len(await _poll(_subscriber(), full)) == 10
    assert full.asked == [(50, 10)]
    unlingering = _Consumer({"p0": ["a1"]}, {"p0": ["late"]})
    assert await _poll(_subscriber(linger_ms=0), unlingering) == ("a1",)
    assert unlingering.asked == [(50, 10)]


async def test_both_run_side_by_side_and_a_failure_cancels_the_other_as_it_is() -> None:
    started: list[str] = []
    gate = asyncio.Event()
    cancelled = asyncio.Event()

    async def waits() -> None:
        started.append("waits")
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def fails() -> None:
        started.append("fails")
        raise ConnectionError("the broker went away")

    with pytest.raises(ConnectionError, match="the broker went away"):
        await both(waits(), fails())
    assert started == ["waits", "fails"]
    assert cancelled.is_set()

    done: list[str] = []

    async def one(name: str) -> None:
        done.append(name)

    await both(one("record"), one("publish"))
    assert sorted(done) == ["publish", "record"]
