"""The whole stack with its logs: Docker Compose where an engine answers, else local processes.

Locally: Kafka and FerretDB (started here unless already up), then the four services
as child processes whose log lines are interleaved on stdout. Ctrl-C or SIGTERM stops
the services, then the infrastructure this command started, leaving no process behind.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

from infra.local import Endpoints, down, running, up

SERVICES = ("mediation", "enterprise", "outreach", "notifier")
DEFAULT_PORTS = {"mediation": 8101, "enterprise": 8102, "outreach": 8103, "notifier": 8104}
ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 60.0


def docker_engine_answers() -> bool:
    """True where `docker info` reaches an engine (a client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _emit(event: str, **fields: object) -> None:
    print(
        json.dumps({"event": event, "service": "stack", **fields}, ensure_ascii=False), flush=True
    )


def _port(name: str) -> int:
    return int(os.environ.get(f"{name.upper()}_HTTP_PORT", DEFAULT_PORTS[name]))


def _ready(name: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{_port(name)}/readyz", timeout=2) as rsp:
            return bool(rsp.status == 200)
    except OSError:
        return False


async def _pump(name: str, stream: asyncio.StreamReader, prefix: bool) -> None:
    async for raw in stream:
        line = raw.decode(errors="replace").rstrip("\n")
        print(f"{name:>10} | {line}" if prefix else line, flush=True)


async def _stop(procs: dict[str, asyncio.subprocess.Process]) -> None:
    for proc in procs.values():
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    waits = [asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S) for proc in procs.values()]
    for proc, result in zip(
        procs.values(), await asyncio.gather(*waits, return_exceptions=True), strict=True
    ):
        if isinstance(result, TimeoutError):
            proc.kill()
            await proc.wait()


async def _local_stack(ep: Endpoints) -> int:
    started = time.monotonic()
    we_started_infra = None in running().values()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    procs: dict[str, asyncio.subprocess.Process] = {}
    pumps: list[asyncio.Task[None]] = []
    try:
        await up(ep)
        tty = sys.stdout.isatty()
        env = {**os.environ, **ep.env(), "LOG_FORMAT": os.environ.get("LOG_FORMAT", "auto")}
        for name in SERVICES:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{name}",
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
            procs[name] = proc
            if proc.stdout is not None:
                pumps.append(asyncio.create_task(_pump(name, proc.stdout, prefix=tty)))
        deadline = time.monotonic() + READY_TIMEOUT_S
        pending = set(SERVICES)
        while pending and not stop.is_set():
            if exited := [n for n, p in procs.items() if p.returncode is not None]:
                _emit("stack_failed", reason=f"{', '.join(exited)} exited during start-up")
                return 1
            if time.monotonic() > deadline:
                _emit("stack_failed", reason=f"not ready in {READY_TIMEOUT_S:.0f} s: {pending}")
                return 1
            ready = await asyncio.gather(*(asyncio.to_thread(_ready, n) for n in pending))
            pending -= {n for n, ok in zip(list(pending), ready, strict=True) if ok}
            await asyncio.sleep(0.2)
        if not stop.is_set():
            _emit(
                "stack_ready",
                seconds=round(time.monotonic() - started, 1),
                kafka=ep.kafka_bootstrap_servers,
                mongodb=ep.mongodb_url,
                services={n: f"http://127.0.0.1:{_port(n)}" for n in SERVICES},
                pids={
                    **{n: p.pid for n, p in procs.items()},
                    **{k: v for k, v in running().items() if v},
                },
            )
        died = asyncio.create_task(
            asyncio.wait(
                [asyncio.create_task(p.wait()) for p in procs.values()],
                return_when=asyncio.FIRST_COMPLETED,
            )
        )
        await asyncio.wait(
            [died, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        return 0 if stop.is_set() else 1
    finally:
        _emit("stack_stopping")
        await _stop(procs)
        await asyncio.gather(*pumps, return_exceptions=True)
        if we_started_infra:
            down()
        _emit("stack_stopped", infrastructure="stopped" if we_started_infra else "left running")


def run_stack(ep: Endpoints) -> int:
    """Run until Ctrl-C; return the exit code."""
    if docker_engine_answers():
        return subprocess.call(["docker", "compose", "up", "--build"], cwd=ROOT)
    return asyncio.run(_local_stack(ep))
