"""The whole stack with its logs: Docker Compose where an engine answers, else local processes.

Locally: Kafka and FerretDB (started here unless already up, with their data kept in
the data folder, see infra/local.py), in the `dev` profile only (`STATION_PROFILE=dev`,
`make stack-dev`) the development SMS gateway and mail sink on loopback
(infra/dev_sinks.py, the notifier pointed at them), then the four services as child
processes whose log lines are interleaved on stdout: on a terminal one short coloured
line per event (infra/stack_view.py, rendered by cli/render.py), else the JSON lines.
A service that dies is restarted with a backoff (infra/supervise.py) while the others
keep running. Ctrl-C or SIGTERM stops the services, then the infrastructure this
command started, leaving no process behind.
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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from functools import partial
from pathlib import Path

from infra.credentials import OPERATORS
from infra.local import credentials, down, up
from infra.places import Endpoints, current, running
from infra.stack_view import LogView
from infra.supervise import Supervised
from shared._kit.kafka_client import PROPERTIES_VARIABLE

SERVICES = ("mediation", "enterprise", "outreach", "notifier")
DEFAULT_PORTS = {"mediation": 8101, "enterprise": 8102, "outreach": 8103, "notifier": 8104}
ROOT = Path(__file__).resolve().parent.parent
DEV_SINKS = "dev-sinks"
# the development SMS gateway and mail sink, in the `dev` profile, listen on loopback
# there and the notifier is pointed at them; STATION_SMS_PORT / STATION_SMTP_PORT move
# them (and the notifier with them). Without the profile the notifier sends only to
# the gateway and SMTP server its own settings name, or writes masked log lines.
SMS_PORT, SMTP_PORT = 8110, 8025
DEV_PROFILE = "dev"
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


def _sink_ports() -> tuple[int, int]:
    return (
        int(os.environ.get("STATION_SMS_PORT", SMS_PORT)),
        int(os.environ.get("STATION_SMTP_PORT", SMTP_PORT)),
    )


def dev_profile() -> bool:
    """Whether the stack runs in the `dev` profile (STATION_PROFILE=dev)."""
    return os.environ.get("STATION_PROFILE", "").strip().lower() == DEV_PROFILE


def _sink_env() -> dict[str, str]:
    """The notifier's gateway and SMTP settings pointing at the sinks (unless set)."""
    sms, smtp = _sink_ports()
    wanted = {
        "NOTIFIER_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms}/sms",
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp),
    }
    return {k: v for k, v in wanted.items() if k not in os.environ}


def _ready(name: str) -> bool:
    url = (
        f"http://127.0.0.1:{_sink_ports()[0]}/healthz"
        if name == DEV_SINKS
        else f"http://127.0.0.1:{_port(name)}/readyz"
    )
    try:
        with urllib.request.urlopen(url, timeout=2) as rsp:  # noqa: S310 - http on loopback
            return bool(rsp.status == 200)
    except OSError:
        return False


# a line longer than this (a service's log line carrying a whole document) is cut
LINE_LIMIT = 1024 * 1024


async def read_lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The lines of a child's output, each cut to LINE_LIMIT bytes: `async for` over the
    stream itself raises on a line longer than its buffer and ends the reading, and a
    child whose output nobody reads blocks on its next write."""
    while True:
        try:
            yield await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            if end.partial:
                yield end.partial
            return
        except asyncio.LimitOverrunError as long:
            head = await stream.readexactly(long.consumed)
            while True:  # the rest of the line, dropped
                try:
                    await stream.readuntil(b"\n")
                    break
                except asyncio.LimitOverrunError as more:
                    await stream.readexactly(more.consumed)
                except asyncio.IncompleteReadError:
                    break
            yield head + b" [cut]\n"


async def _pump(
    name: str, stream: asyncio.StreamReader, prefix: bool, view: "LogView | None" = None
) -> None:
    async for raw in read_lines(stream):
        line = raw.decode(errors="replace").rstrip("\n")
        if view is not None:
            await view.show(name, line)
        else:
            print(f"{name:>10} | {line}" if prefix else line, flush=True)


async def _stop(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    waits = [asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S) for proc in procs]
    for proc, result in zip(
        procs, await asyncio.gather(*waits, return_exceptions=True), strict=True
    ):
        if isinstance(result, TimeoutError):
            proc.kill()
            await proc.wait()


def _argv(name: str) -> list[str]:
    if name == DEV_SINKS:
        sms, smtp = _sink_ports()
        return ["infra.dev_sinks", "--sms-port", str(sms), "--smtp-port", str(smtp)]
    return [f"services.{name}"]


def _starter(
    name: str, env: dict[str, str], pumps: list["asyncio.Task[None]"], view: "LogView | None"
) -> Callable[[], Awaitable[asyncio.subprocess.Process]]:
    async def start() -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *_argv(name),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            limit=LINE_LIMIT,
        )
        if proc.stdout is not None:
            pumps.append(asyncio.create_task(_pump(name, proc.stdout, sys.stdout.isatty(), view)))
        return proc

    return start


def _failure(runs: dict[str, "asyncio.Task[str | None]"]) -> str | None:
    """Why a service's supervision ended, if one did."""
    for name, run in runs.items():
        if run.done():
            if (error := run.exception()) is not None:
                return f"{name}: {error!r}"
            if reason := run.result():
                return reason
    return None


async def _until_ready(
    supervised: dict[str, Supervised], runs: dict[str, "asyncio.Task[str | None]"]
) -> str | None:
    """None once every service has been ready, else why the stack cannot start."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not all(s.ever_ready for s in supervised.values()):
        if failed := _failure(runs):
            return failed
        if time.monotonic() > deadline:
            pending = sorted(n for n, s in supervised.items() if not s.ever_ready)
            return f"not ready in {READY_TIMEOUT_S:.0f} s: {pending}"
        await asyncio.sleep(0.2)
    return None


async def _local_stack(ep: Endpoints) -> int:
    started = time.monotonic()
    we_started_infra = None in running().values()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    pumps: list[asyncio.Task[None]] = []
    view: LogView | None = None
    supervised: dict[str, Supervised] = {}
    runs: dict[str, asyncio.Task[str | None]] = {}
    try:
        await up(ep, persistent=True)
        found = current()
        if found is not None:
            _emit("stack_data", dir=str(found.data), persistent=found.persistent)
        env = {**os.environ, **ep.env(), "LOG_FORMAT": os.environ.get("LOG_FORMAT", "auto")}
        # each service signs in to Kafka as itself, with only its own ACLs
        users = credentials()
        own = {
            name: {PROPERTIES_VARIABLE: str(users.properties(name))} if users else {}
            for name in SERVICES
        }
        view = LogView.for_terminal(ep.kafka_bootstrap_servers)
        sinks = (DEV_SINKS,) if dev_profile() else ()
        if sinks:
            env.update(_sink_env())
        for name in (*sinks, *SERVICES):
            supervised[name] = Supervised(
                name,
                _starter(name, {**env, **own.get(name, {})}, pumps, view),
                partial(asyncio.to_thread, _ready, name),
                _emit,
            )
            runs[name] = asyncio.create_task(supervised[name].run(stop))
        stopping = asyncio.create_task(stop.wait())
        waiting = asyncio.create_task(_until_ready(supervised, runs))
        await asyncio.wait({stopping, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            return 0
        if reason := waiting.result():
            _emit("stack_failed", reason=reason)
            return 1
        _emit(
            "stack_ready",
            seconds=round(time.monotonic() - started, 1),
            kafka=ep.kafka_bootstrap_servers,
            mongodb=ep.mongodb_url,
            **(
                {"kafka_client_properties": str(users.properties(OPERATORS))}
                if users is not None
                else {}
            ),
            services={n: f"http://127.0.0.1:{_port(n)}" for n in SERVICES},
            **(
                {
                    "dev_sinks": {
                        "sms": f"http://127.0.0.1:{_sink_ports()[0]}/sms",
                        "smtp": f"127.0.0.1:{_sink_ports()[1]}",
                    }
                }
                if sinks
                else {}
            ),
            pids={
                **{n: s.proc.pid for n, s in supervised.items() if s.proc is not None},
                **{k: v for k, v in running().items() if v},
            },
        )
        # a service that crashes is restarted; only one that keeps crashing at start-up
        # (its run ends with a reason) or Ctrl-C / SIGTERM ends the stack
        await asyncio.wait([stopping, *runs.values()], return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            return 0
        _emit("stack_failed", reason=_failure(runs))
        return 1
    finally:
        _emit("stack_stopping")
        stop.set()
        await asyncio.gather(*runs.values(), return_exceptions=True)
        await _stop([s.proc for s in supervised.values() if s.proc is not None])
        await asyncio.gather(*pumps, return_exceptions=True)
        if view is not None:
            await view.close()
        if we_started_infra:
            down()
        _emit("stack_stopped", infrastructure="stopped" if we_started_infra else "left running")


def run_stack(ep: Endpoints) -> int:
    """Run until Ctrl-C; return the exit code."""
    if docker_engine_answers():
        profile, env = [], dict(os.environ)
        if dev_profile():  # the sinks' compose profile, and the notifier pointed at them
            profile = ["--profile", DEV_PROFILE]
            env.setdefault("NOTIFIER_SMS_GATEWAY_URL", f"http://{DEV_SINKS}:{SMS_PORT}/sms")
            env.setdefault("NOTIFIER_SMTP_HOST", DEV_SINKS)
        return subprocess.call(["docker", "compose", *profile, "up", "--build"], cwd=ROOT, env=env)
    return asyncio.run(_local_stack(ep))
