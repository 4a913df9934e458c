"""Keep one of the stack's services running, as compose's `restart: unless-stopped` would.

A service that exits is started again after a capped exponential backoff (1 s, 2 s,
4 s … 30 s; back to 1 s once it has been ready for `STABLE_S`), with a
`service_restarting` log line, while the others keep running. Only a service that
exits `MAX_START_FAILURES` times in a row without ever becoming ready gives up: the
stack then stops, since a restart will not mend it (bad configuration, a broken
dependency).
"""

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Protocol

RESTART_BASE_S = 1.0
RESTART_CAP_S = 30.0
STABLE_S = 10.0
MAX_START_FAILURES = 5
READY_POLL_S = 0.2


class Emit(Protocol):
    def __call__(self, event: str, **fields: object) -> None: ...


def restart_delay(attempt: int) -> float:
    """Seconds to wait before the `attempt`-th restart in a row (1, 2, 3 …)."""
    return min(RESTART_CAP_S, RESTART_BASE_S * 2.0 ** (attempt - 1))


def _exit_fields(code: int | None) -> dict[str, object]:
    if code is not None and code < 0:
        with suppress(ValueError):
            return {"exit_code": code, "signal": signal.Signals(-code).name}
    return {"exit_code": code}


class Supervised:
    """One service: its current process, whether it became ready, its restarts."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Awaitable[asyncio.subprocess.Process]],
        ready: Callable[[], Awaitable[bool]],
        emit: Emit,
    ) -> None:
        self.name = name
        self._start, self._ready, self._emit = start, ready, emit
        self.proc: asyncio.subprocess.Process | None = None
        self.ready_at: float | None = None  # when the current process became ready
        self.ever_ready = False
        self.attempt = 0  # restarts in a row
        self.start_failures = 0  # exits in a row before becoming ready

    def _not_ready_yet(self) -> None:
        self.ready_at = None

    async def _watch_ready(self, proc: asyncio.subprocess.Process) -> None:
        while proc.returncode is None:
            if await self._ready():
                self.ready_at = time.monotonic()
                self.ever_ready = True
                if self.attempt:
                    self._emit(
                        "service_restarted", name=self.name, pid=proc.pid, attempt=self.attempt
                    )
                return
            await asyncio.sleep(READY_POLL_S)

    async def run(self, stop: asyncio.Event) -> str | None:
        """Until `stop` is set (None), or the reason it gave up."""
        while not stop.is_set():
            proc = self.proc = await self._start()
            self._not_ready_yet()
            watcher = asyncio.create_task(self._watch_ready(proc))
            exited = asyncio.create_task(proc.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (watcher, exited, stopping):
                task.cancel()
            with suppress(asyncio.CancelledError):
                await watcher
            if stop.is_set():
                return None
            code = proc.returncode
            if self.ready_at is None:
                self.start_failures += 1
                if self.start_failures >= MAX_START_FAILURES:
                    return (
                        f"{self.name} exited {self.start_failures} times in a row before "
                        f"becoming ready (last exit code {code})"
                    )
            else:
                self.start_failures = 0
                if time.monotonic() - self.ready_at >= STABLE_S:
                    self.attempt = 0
            self.attempt += 1
            delay = restart_delay(self.attempt)
            self._emit(
                "service_restarting",
                name=self.name,
                pid=proc.pid,
                **_exit_fields(code),
                attempt=self.attempt,
                delay_s=delay,
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        return None
