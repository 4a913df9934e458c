"""The local infrastructure's defaults and the stack's restart policy, without servers."""

import asyncio
import sys
from pathlib import Path

import pytest

from infra import supervise
from infra.places import Endpoints, data_dir
from infra.supervise import MAX_START_FAILURES, Supervised, restart_delay
from tests.support import eventually


def _ephemeral_start() -> int:
    ports = Path("/proc/sys/net/ipv4/ip_local_port_range")
    return int(ports.read_text().split()[0]) if ports.exists() else 32768


def test_default_ports_lie_below_the_ephemeral_range(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A client reconnecting to a stopped broker on a port inside the range can be given
    that very port as its own (a TCP self-connect) and keep the broker from binding it."""
    monkeypatch.setenv("STATION_INFRA_DIR", str(tmp_path / "run"))
    for name in ("STATION_KAFKA_PORT", "STATION_KAFKA_CONTROLLER_PORT", "STATION_MONGO_PORT"):
        monkeypatch.delenv(name, raising=False)

    ep = Endpoints.from_environment()

    assert max(ep.kafka_port, ep.controller_port, ep.mongo_port) < min(_ephemeral_start(), 32768)
    assert (ep.kafka_port, ep.controller_port, ep.mongo_port) == (19092, 19093, 27117)


def test_port_variables_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATION_INFRA_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("STATION_KAFKA_PORT", "21092")
    monkeypatch.setenv("STATION_KAFKA_CONTROLLER_PORT", "21093")
    monkeypatch.setenv("STATION_MONGO_PORT", "21117")

    assert Endpoints.from_environment() == Endpoints(21092, 21093, 21117)


def test_kept_data_has_a_documented_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STATION_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "county-station"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_dir() == Path.home() / ".local" / "share" / "county-station"
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"


def test_restart_delays_double_up_to_a_cap() -> None:
    assert [restart_delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]


async def _python(code: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-c", code)


async def test_a_service_crashing_at_start_up_is_retried_then_given_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervise, "RESTART_BASE_S", 0.01)
    events: list[dict[str, object]] = []

    async def never_ready() -> bool:
        return False

    service = Supervised(
        "broken",
        lambda: _python("raise SystemExit(3)"),
        never_ready,
        lambda event, **fields: events.append({"event": event, **fields}),
    )
    reason = await asyncio.wait_for(service.run(asyncio.Event()), 30)

    assert reason == (
        f"broken exited {MAX_START_FAILURES} times in a row before becoming ready "
        "(last exit code 3)"
    )
    restarts = [e for e in events if e["event"] == "service_restarting"]
    assert [e["attempt"] for e in restarts] == list(range(1, MAX_START_FAILURES))
    assert all(e["exit_code"] == 3 and e["name"] == "broken" for e in restarts)


async def test_a_ready_service_that_dies_is_restarted_until_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervise, "RESTART_BASE_S", 0.01)
    events: list[dict[str, object]] = []

    async def ready() -> bool:
        return True

    service = Supervised(
        "flaky",
        lambda: _python("import time; time.sleep(60)"),
        ready,
        lambda event, **fields: events.append({"event": event, **fields}),
    )
    stop = asyncio.Event()
    run = asyncio.create_task(service.run(stop))
    pids: list[int] = []

    async def new_process_ready() -> bool:
        proc = service.proc
        return proc is not None and proc.pid not in pids and service.ready_at is not None

    for _ in range(MAX_START_FAILURES + 1):  # more deaths than start-up failures allow
        await eventually(new_process_ready, timeout_s=10, what="a new process, ready")
        assert service.proc is not None
        pids.append(service.proc.pid)
        service.proc.kill()
    await eventually(new_process_ready, timeout_s=10, what="the last restart, ready")
    stop.set()
    assert await asyncio.wait_for(run, 10) is None
    assert service.proc is not None
    service.proc.kill()
    await service.proc.wait()

    restarting = [e for e in events if e["event"] == "service_restarting"]
    restarted = [e for e in events if e["event"] == "service_restarted"]
    assert [e["pid"] for e in restarting] == pids
    assert [e["pid"] for e in restarted][:-1] == pids[1:]
    assert [e["signal"] for e in restarting] == ["SIGKILL"] * len(pids)
    assert [e["attempt"] for e in restarting] == list(range(1, len(pids) + 1))
    assert [e["delay_s"] for e in restarting[:3]] == [0.01, 0.02, 0.04]
