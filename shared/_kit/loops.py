"""A service's background loops, the bounded steps of its shutdown, and two awaitables
run side by side."""

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("station.runtime")

HOUSEKEEPING_S = 3600.0
# the marking loop's period: each pass drops published events from the outboxes of the
# aggregates that have held them for half of it (the others drop them with their next write)
MARK_SENT_S = 1.0
# how long each step of the shutdown (dedupe records, outbox marking) may take
MARK_SENT_AT_STOP_S = 5.0


async def at_most(step: Awaitable[None], failed: str) -> None:
    """A step of the shutdown, given up (and logged as `failed`) after MARK_SENT_AT_STOP_S."""
    try:
        await asyncio.wait_for(step, MARK_SENT_AT_STOP_S)
    except Exception as exc:  # noqa: BLE001 - what is left is redone or harmless
        log.warning(failed, error=f"{type(exc).__name__}: {exc}"[:300])


async def every(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `job` now and then every `seconds`; a failure is logged and tried next time."""
    while True:
        try:
            result = await job()
            log.debug(name, result=result)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning(f"{name}_failed", error=f"{type(exc).__name__}: {exc}"[:500])
        await asyncio.sleep(seconds)


async def both(first: Awaitable[None], second: Awaitable[None]) -> None:
    """Run both at once; if one fails, the other is cancelled and the failure raised as it
    is (not in an ExceptionGroup: callers tell an outage from a bug by its type)."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
