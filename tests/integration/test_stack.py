"""The stack command: Kafka, FerretDB and the four services ready; a service killed with
SIGKILL is restarted while the others keep running; Ctrl-C leaves no process behind
and the data in the data folder."""

import asyncio
import json
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.servers import pid_alive
from infra.stack import SERVICES, docker_engine_answers
from tests.platform.private_kafka import free_low_port
from tests.support import ROOT, eventually, free_port

# how a shell names a Kafka identity (shared/_kit/kafka_client.py): none may leak in
IDENTITY_VARIABLES = (
    "KAFKA_CLIENT_PROPERTIES",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
)

pytestmark = pytest.mark.integration


class Stack:
    """`python -m infra stack` as a child process, its JSON lines collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: list[dict[str, Any]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "infra",
            "stack",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:  # a child's plain text (a traceback) among the JSON lines
                self.lines.append({"event": "text", "text": raw.decode(errors="replace")})

    def of(self, event: str, **fields: object) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line["event"] == event and all(line.get(k) == v for k, v in fields.items())
        ]

    async def wait_for(self, event: str, timeout_s: float, **fields: object) -> dict[str, Any]:
        async def seen() -> bool:
            if self.of("stack_failed"):
                raise AssertionError(self.of("stack_failed"))
            return bool(self.of(event, **fields))

        await eventually(seen, timeout_s=timeout_s, what=f"{event} {fields}")
        return self.of(event, **fields)[0]

    async def stop(self) -> int:
        assert self.proc is not None
        assert self._reader is not None
        self.proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        await self._reader
        return code

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def _ready(url: str) -> bool:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{url}/readyz", timeout=2)).status_code == 200


def _private_stack_env(tmp_path: Path) -> dict[str, str]:
    """A stack of its own: run and data folders, ports; no Kafka or Mongo of the shell's."""
    kafka_port = free_low_port()
    controller_port = free_low_port({kafka_port})
    env = {
        **os.environ,
        "STATION_INFRA_DIR": str(tmp_path / "infra"),
        "STATION_DATA_DIR": str(tmp_path / "data"),
        "STATION_KAFKA_PORT": str(kafka_port),
        "STATION_KAFKA_CONTROLLER_PORT": str(controller_port),
        "STATION_MONGO_PORT": str(free_low_port({kafka_port, controller_port})),
        **{f"{name.upper()}_HTTP_PORT": str(free_port()) for name in SERVICES},
        "STATION_PROFILE": "dev",  # the development sinks too
        "STATION_SMS_PORT": str(free_port()),
        "STATION_SMTP_PORT": str(free_port()),
    }
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", *IDENTITY_VARIABLES):
        env.pop(key, None)
    return env


@pytest.mark.skipif(docker_engine_answers(), reason="with a Docker engine the stack is compose")
async def test_stack_restarts_a_killed_service_and_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    stack = Stack(_private_stack_env(tmp_path))
    await stack.start()
    try:
        ready = await stack.wait_for("stack_ready", timeout_s=120)
        pids = ready["pids"]
        assert set(pids) == {*SERVICES, "dev-sinks", "kafka", "ferretdb"}

        killed = time.monotonic()
        os.kill(pids["enterprise"], signal.SIGKILL)
        restarting = await stack.wait_for("service_restarting", timeout_s=30, name="enterprise")
        restarted = await stack.wait_for("service_restarted", timeout_s=90, name="enterprise")
        ready_again_s = time.monotonic() - killed
        assert await _ready(ready["services"]["enterprise"])
        others = [name for name in SERVICES if name != "enterprise"]
        assert all(pid_alive(pids[name]) for name in [*others, "kafka", "ferretdb"])
        assert all([await _ready(ready["services"][name]) for name in others])
        code = await stack.stop()
    finally:
        await stack.kill()

    assert {k: restarting[k] for k in ("pid", "exit_code", "signal", "attempt", "delay_s")} == {
        "pid": pids["enterprise"],
        "exit_code": -signal.SIGKILL,
        "signal": "SIGKILL",
        "attempt": 1,
        "delay_s": 1.0,
    }
    assert restarted["pid"] != pids["enterprise"]
    assert [line["name"] for line in stack.of("service_restarting")] == ["enterprise"]
    service_ready = [line["service"] for line in stack.of("service_ready")]
    assert sorted(service_ready) == sorted([*SERVICES, "enterprise"])
    assert code == 0
    assert stack.lines[-1] == {
        "event": "stack_stopped",
        "service": "stack",
        "infrastructure": "stopped",
    }
    still_alive = [pid for pid in [*pids.values(), restarted["pid"]] if pid_alive(int(pid))]
    assert still_alive == []
    assert not (tmp_path / "infra").exists()
    # the data outlives the stack: the next `make stack` reuses it
    assert (tmp_path / "data" / "kafka" / "meta.properties").exists()
    assert (tmp_path / "data" / "ferretdb" / "enterprise.sqlite").exists()
    print(f"{restarting}; ready again after {ready_again_s:.1f} s: {restarted}")


@pytest.mark.skipif(docker_engine_answers(), reason="with a Docker engine the stack is compose")
async def test_the_demo_completes_with_each_service_as_itself_and_station_as_operators(
    tmp_path: Path,
) -> None:
    """The ACLs suffice: every service signs in as its own user with only its own ACLs,
    and `station demo`, given no credentials, finds the operators' file of the stack."""
    env = _private_stack_env(tmp_path)
    stack = Stack(env)
    await stack.start()
    try:
        ready = await stack.wait_for("stack_ready", timeout_s=120)
        operators = Path(ready["kafka_client_properties"])
        assert operators == tmp_path / "data" / "operators.properties"
        assert stat.S_IMODE(os.stat(operators).st_mode) == 0o600
        assert {"kafka", "mongodb", "services", "pids", "dev_sinks"} <= set(ready)
        demo = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli",
            "demo",
            "--lang",
            "en",
            cwd=ROOT,
            env={**env, "COLUMNS": "160"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(demo.communicate(), 300)
        code = await stack.stop()
    finally:
        await stack.kill()

    assert demo.returncode == 0, out.decode()
    assert "5/5 stories complete" in out.decode(), out.decode()
    assert code == 0
    # each service ran as itself: none was refused anything on the way
    refused = [line for line in stack.lines if "uthorization" in json.dumps(line)]
    assert refused == []
