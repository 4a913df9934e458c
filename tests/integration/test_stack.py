"""The stack command: Kafka, FerretDB and the four services ready; Ctrl-C leaves nothing behind."""

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from infra.local import _pid_alive
from infra.stack import SERVICES, docker_engine_answers
from tests.support import ROOT, free_port

pytestmark = pytest.mark.integration


@pytest.mark.skipif(docker_engine_answers(), reason="with a Docker engine the stack is compose")
async def test_stack_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "STATION_INFRA_DIR": str(tmp_path / "infra"),
        "STATION_KAFKA_PORT": str(free_port()),
        "STATION_KAFKA_CONTROLLER_PORT": str(free_port()),
        "STATION_MONGO_PORT": str(free_port()),
        **{f"{name.upper()}_HTTP_PORT": str(free_port()) for name in SERVICES},
    }
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL"):
        env.pop(key, None)
    stack = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra",
        "stack",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert stack.stdout is not None
    lines: list[dict[str, object]] = []
    try:
        async with asyncio.timeout(120):
            async for raw in stack.stdout:
                lines.append(json.loads(raw))
                if lines[-1]["event"] in ("stack_ready", "stack_failed"):
                    break
        ready = lines[-1]
        assert ready["event"] == "stack_ready", lines[-5:]
        stack.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            lines.extend([json.loads(raw) async for raw in stack.stdout])
            code = await stack.wait()
    finally:
        if stack.returncode is None:
            stack.kill()
            await stack.wait()

    pids = ready["pids"]
    assert isinstance(pids, dict)
    assert set(pids) == {*SERVICES, "kafka", "ferretdb"}
    service_ready = {line["service"] for line in lines if line["event"] == "service_ready"}
    assert service_ready == set(SERVICES)
    assert code == 0
    assert lines[-1] == {"event": "stack_stopped", "service": "stack", "infrastructure": "stopped"}
    assert [name for name, pid in pids.items() if _pid_alive(int(pid))] == []
    assert not (tmp_path / "infra").exists()
