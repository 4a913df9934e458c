"""The local infrastructure's defaults and the stack's restart policy, without servers."""

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest

from infra import places, supervise
from infra.places import Endpoints, data_dir, read_pid, run_dir
from infra.servers import InfraError
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


@pytest.fixture
def no_run_dir_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No STATION_INFRA_DIR or XDG_RUNTIME_DIR; XDG_STATE_HOME in a fresh folder."""
    monkeypatch.delenv("STATION_INFRA_DIR", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_run_folder_is_private_and_not_at_a_shared_guessable_path(
    no_run_dir_variables: Path,
) -> None:
    previous = os.umask(0o022)
    try:
        folder = run_dir()
    finally:
        os.umask(previous)

    assert folder == no_run_dir_variables / "state" / "county-station" / "run"
    assert _mode(folder) == 0o700
    assert folder.lstat().st_uid == os.getuid()
    assert run_dir() == folder, "found again as it is"


def test_the_run_folder_is_under_xdg_runtime_dir_only_when_that_is_private(
    no_run_dir_variables: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = no_run_dir_variables / "runtime"
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert run_dir() == runtime / "county-station"

    runtime.chmod(0o755)
    assert run_dir() == no_run_dir_variables / "state" / "county-station" / "run"


def test_station_infra_dir_still_wins_and_is_made_private(
    no_run_dir_variables: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = no_run_dir_variables / "deep" / "mine"
    monkeypatch.setenv("STATION_INFRA_DIR", str(mine))

    assert run_dir() == mine
    assert _mode(mine) == 0o700


def test_a_run_folder_others_may_enter_or_of_another_user_is_refused_and_left_alone(
    no_run_dir_variables: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = no_run_dir_variables / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    monkeypatch.setenv("STATION_INFRA_DIR", str(shared))

    with pytest.raises(InfraError, match=r"mode 0755: others may read .* `chmod 700 "):
        run_dir()
    assert _mode(shared) == 0o755, "not changed behind the user's back"

    shared.chmod(0o700)
    real_uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real_uid + 1)
    with pytest.raises(InfraError, match=rf"belongs to uid {real_uid}, not to you"):
        run_dir()


def test_a_link_or_a_file_in_place_of_the_run_folder_is_refused(
    no_run_dir_variables: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = no_run_dir_variables / "state" / "county-station"
    state.mkdir(parents=True)
    elsewhere = no_run_dir_variables / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (state / "run").symlink_to(elsewhere)

    with pytest.raises(InfraError, match="not a folder"):
        run_dir()

    (state / "run").unlink()
    (state / "run").write_text("")
    with pytest.raises(InfraError, match="not a folder"):
        run_dir()


def test_pid_files_are_read_only_when_they_are_the_users_own_plain_files(
    no_run_dir_variables: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = run_dir()
    (folder / "kafka.pid").write_text(str(os.getpid()))
    assert read_pid("kafka") == os.getpid()
    assert read_pid("ferretdb") is None, "no pid file: nothing running"

    planted = no_run_dir_variables / "planted.pid"
    planted.write_text(str(os.getpid()))
    (folder / "ferretdb.pid").symlink_to(planted)
    with pytest.raises(InfraError, match="not a plain file"):
        read_pid("ferretdb")

    real_uid = os.getuid()
    monkeypatch.setattr(places, "run_dir", lambda: folder)
    monkeypatch.setattr(os, "getuid", lambda: real_uid + 1)
    with pytest.raises(InfraError, match=rf"belongs to uid {real_uid}, not to you"):
        read_pid("kafka")
