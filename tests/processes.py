"""A service as a real child process, with its log lines collected (`ServiceProcess`)."""

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Mapping

import httpx

from infra.stack import LINE_LIMIT, read_lines
from tests.support import ROOT, free_port

# a process that does not exit in time is asked for its stacks: how long they may take
# to arrive, and how many of the lines since the stop a failure shows
STACKS_S = 1.0
STACK_LINES = 80


class ServiceProcess:
    """`python -m services.<name>` as a child process, with its log lines collected."""

    def __init__(self, name: str, env: Mapping[str, str], *, module: str | None = None) -> None:
        self.name = name
        self.module = module or f"services.{name}"
        self.port = free_port()
        self.env = {
            **os.environ,
            "LOG_FORMAT": "json",
            f"{name.upper()}_HTTP_PORT": str(self.port),
            **env,
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=LINE_LIMIT,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async for raw in read_lines(self.proc.stdout):
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def events(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines]

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise AssertionError(f"{self.name} exited: {self.lines[-5:]}")
                try:
                    rsp = await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
                    if rsp.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not ready in {timeout_s} s: {self.lines[-5:]}")

    async def wait_exit(self, timeout_s: float) -> int:
        assert self.proc is not None
        assert self._reader is not None
        seen = len(self.lines)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            raise AssertionError(await self._stuck(timeout_s, seen)) from None
        await self._reader
        return code

    async def _stuck(self, timeout_s: float, seen: int) -> str:
        """What a process that did not exit was doing: its last lines, then the stacks of
        its threads (the kit prints them on SIGUSR1, even with its event loop blocked)."""
        assert self.proc is not None
        before = "\n".join(self.lines[max(0, seen - 10) : seen])
        self.proc.send_signal(signal.SIGUSR1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), STACKS_S)
        since = "\n".join(self.lines[seen:][-STACK_LINES:])
        return f"{self.name} running after {timeout_s} s:\n{before}\n--- since:\n{since}"

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await self.wait_exit(timeout_s)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
