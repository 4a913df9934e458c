"""Start, check and stop a single-node Kafka broker and FerretDB on loopback.

Both run as detached processes whose pids, configuration and logs live in a throwaway
run folder (`STATION_INFRA_DIR`). Their data lives there too, deleted by `down`, unless
`up` is asked to keep it: then it lives in the data folder (`data_dir()`), which `down`
leaves alone, the next persistent `up` reuses (Kafka keeps its cluster id, FerretDB its
SQLite files or PostgreSQL cluster) and only `reset` deletes. Readiness means a real
produce/consume round trip through the broker and a real Mongo `ping`, not an open port.

FerretDB keeps its data in SQLite files or in a private PostgreSQL server started
alongside it (`STATION_FERRETDB_BACKEND`, see `backend_from_environment`).
"""

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from infra import postgresql
from infra.artifacts import cache_dir, ensure_artifacts
from infra.kafka import ensure_topics, round_trip
from infra.servers import (
    InfraError,
    cluster_id,
    ferretdb_argv,
    format_kafka,
    kafka_argv,
    kafka_config,
    mongo_ping,
    pid_alive,
    port_free,
    stop_group,
    wait_until,
)
from infra.topics import contract_topics

_cluster_id = cluster_id  # the name tests/unit/test_plumbing.py knows

HEALTHCHECK_TOPIC = "_infra.healthcheck"
READY_TIMEOUT_S = 120.0
# below Linux's ephemeral range (32768-60999): a client reconnecting to a stopped
# broker's port there can connect to itself and hold the port the broker needs again
DEFAULT_KAFKA_PORT, DEFAULT_CONTROLLER_PORT, DEFAULT_MONGO_PORT = 19092, 19093, 27117
_PORT_VARIABLES = ("STATION_KAFKA_PORT", "STATION_KAFKA_CONTROLLER_PORT", "STATION_MONGO_PORT")
# FerretDB's store (README, "Which store FerretDB runs on")
BACKENDS = ("sqlite", "postgresql")
DEFAULT_BACKEND = "sqlite"


@dataclass(frozen=True)
class Endpoints:
    kafka_port: int
    controller_port: int
    mongo_port: int

    @property
    def kafka_bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "MONGODB_URL": self.mongodb_url,
        }

    @classmethod
    def from_environment(cls) -> "Endpoints":
        """The `STATION_*_PORT` variables; else the ports of the servers running from the
        run folder; else the defaults."""
        if not any(os.environ.get(name) for name in _PORT_VARIABLES):
            found = current()
            if found is not None and None not in running().values():
                return found.endpoints
        defaults = (DEFAULT_KAFKA_PORT, DEFAULT_CONTROLLER_PORT, DEFAULT_MONGO_PORT)
        ports = zip(_PORT_VARIABLES, defaults, strict=True)
        return cls(*(int(os.environ.get(name) or default) for name, default in ports))


@dataclass(frozen=True)
class Current:
    """What the run folder records about the servers started from it."""

    endpoints: Endpoints
    data: Path | None  # None: started by an older version that did not record it
    persistent: bool
    backend: str = "sqlite"
    postgresql_port: int | None = None  # the private PostgreSQL's, if it is the backend


def run_dir() -> Path:
    """Pids, configuration, logs and throwaway data: outside the clone."""
    configured = os.environ.get("STATION_INFRA_DIR")
    if configured:
        return Path(configured).resolve()
    return Path(tempfile.gettempdir()) / f"county-station-infra-{os.getuid()}"


def data_dir() -> Path:
    """Kept data: `STATION_DATA_DIR`, else `$XDG_DATA_HOME/county-station`, else
    `~/.local/share/county-station`."""
    configured = os.environ.get("STATION_DATA_DIR")
    if configured:
        return Path(configured).resolve()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "county-station"


def current() -> Current | None:
    state = run_dir() / "state.json"
    try:
        raw = json.loads(state.read_text())
        return Current(
            Endpoints(**raw["endpoints"]),
            Path(raw["data"]),
            bool(raw["persistent"]),
            str(raw.get("backend", "sqlite")),
            raw.get("postgresql_port"),
        )
    except FileNotFoundError:
        pass
    # servers started by an older version: only the `env` file tells their ports
    env: dict[str, str] = {}
    if (run_dir() / "env").exists():
        for line in (run_dir() / "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
    try:
        kafka = int(env["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1])
        mongo = int(env["MONGODB_URL"].rstrip("/").rsplit(":", 1)[1])
    except (KeyError, IndexError, ValueError):
        return None
    return Current(Endpoints(kafka, kafka + 1, mongo), None, persistent=False)


def backend_from_environment() -> str:
    """FerretDB's store: `STATION_FERRETDB_BACKEND` (sqlite or postgresql); else that of
    the servers running from the run folder; else `DEFAULT_BACKEND`."""
    configured = os.environ.get("STATION_FERRETDB_BACKEND", "").strip().lower()
    if configured:
        if configured not in BACKENDS:
            raise InfraError(
                f"STATION_FERRETDB_BACKEND={configured!r}: want one of {', '.join(BACKENDS)}"
            )
        return configured
    found = current()
    if found is not None and None not in running().values():
        return found.backend
    return DEFAULT_BACKEND


def postgresql_port(ep: Endpoints) -> int:
    """`STATION_POSTGRESQL_PORT`, else the port after FerretDB's (27118 by default)."""
    return int(os.environ.get("STATION_POSTGRESQL_PORT") or ep.mongo_port + 1)


def _read_pid(name: str) -> int | None:
    pid_file = run_dir() / f"{name}.pid"
    try:
        pid = int(pid_file.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def _spawn(name: str, argv: list[str], log: Path, who: postgresql.Identity | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/" if who is not None else None,
            user=None if who is None else who.uid,
            group=None if who is None else who.gid,
            extra_groups=None if who is None else who.groups,
        )
    (run_dir() / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def _log_tail(name: str) -> str:
    files = {
        "kafka": [run_dir() / "kafka" / "stdout.log", run_dir() / "kafka" / "server.log"],
        "postgresql": [run_dir() / "postgresql" / "postgresql.log"],
    }.get(name, [run_dir() / "ferretdb" / "ferretdb.log"])
    lines: list[str] = []
    for file in files:
        if file.exists():
            lines += file.read_text(errors="replace").splitlines()[-15:]
    return "\n".join(lines)


async def _kafka_ready(bootstrap: str) -> None:
    await ensure_topics(bootstrap, contract_topics())
    await ensure_topics(bootstrap, [HEALTHCHECK_TOPIC], partitions=1)
    await round_trip(bootstrap, HEALTHCHECK_TOPIC, timeout_s=20)


async def check(ep: Endpoints, *, kafka_pid: int, ferretdb_pid: int, timeout_s: float) -> None:
    """Both answer for real: a Mongo ping, topics created and a Kafka round trip."""
    deadline = time.monotonic() + timeout_s
    # each refused connection while the broker boots is "not ready yet", not an error
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    await asyncio.gather(
        wait_until(
            "ferretdb", ferretdb_pid, lambda: mongo_ping(ep.mongodb_url), deadline, _log_tail
        ),
        wait_until(
            "kafka",
            kafka_pid,
            lambda: _kafka_ready(ep.kafka_bootstrap_servers),
            deadline,
            _log_tail,
        ),
    )


def running() -> dict[str, int | None]:
    """The pid of each local server that is alive, or None: Kafka, FerretDB and, when it
    is FerretDB's store, PostgreSQL (stopped in this order)."""
    names = ["kafka", "ferretdb"]
    found = current()
    if (found is not None and found.backend == "postgresql") or (
        run_dir() / "postgresql.pid"
    ).exists():
        names.append("postgresql")
    return {name: _read_pid(name) for name in names}


def _owner(data: Path) -> tuple[str, list[int]] | None:
    """The run folder whose live servers use a kept data folder, and their pids."""
    try:
        raw = json.loads((data / "owner.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    alive = [pid for pid in raw.get("pids", []) if pid_alive(int(pid))]
    return (str(raw.get("run_dir")), alive) if alive else None


async def _start_postgresql(cluster: Path, port: int) -> tuple[int, str]:
    """PostgreSQL (installed if missing) on `cluster`, once it accepts connections:
    its pid and FerretDB's URL for it."""
    bindir = await asyncio.to_thread(postgresql.install)
    who = await asyncio.to_thread(postgresql.identity)
    await asyncio.to_thread(postgresql.prepare_cluster, cache_dir(), bindir, cluster)
    log = run_dir() / "postgresql" / "postgresql.log"
    pid = _spawn("postgresql", postgresql.server_argv(bindir, cluster, port), log, who)

    async def accepts() -> None:
        if not await asyncio.to_thread(postgresql.ready, bindir, port):
            raise InfraError("not accepting connections yet")

    await wait_until("postgresql", pid, accepts, time.monotonic() + 60, _log_tail)
    return pid, postgresql.url(port)


async def _start(ep: Endpoints, *, persistent: bool, backend: str) -> dict[str, int | None]:
    pg_port = postgresql_port(ep) if backend == "postgresql" else None
    for port in (ep.kafka_port, ep.controller_port, ep.mongo_port, pg_port):
        if port is not None and not port_free(port):
            raise InfraError(
                f"port 127.0.0.1:{port} is taken by another program; set "
                "STATION_KAFKA_PORT / STATION_KAFKA_CONTROLLER_PORT / STATION_MONGO_PORT "
                "(and STATION_POSTGRESQL_PORT) to free ones"
            )
    data = data_dir() if persistent else run_dir() / "data"
    owner = _owner(data) if persistent else None
    if owner is not None and owner[0] != str(run_dir()):
        raise InfraError(f"{data} is in use by the servers of {owner[0]} (pids {owner[1]})")
    art = await ensure_artifacts(cache_dir())
    run_dir().mkdir(parents=True, exist_ok=True)
    state = {
        "endpoints": asdict(ep),
        "data": str(data),
        "persistent": persistent,
        "backend": backend,
        "postgresql_port": pg_port,
    }
    (run_dir() / "state.json").write_text(json.dumps(state))
    conf = run_dir() / "kafka"
    server, log4j = kafka_config(conf, data / "kafka", ep.kafka_port, ep.controller_port)
    formatting = asyncio.create_task(
        asyncio.to_thread(format_kafka, art.kafka_libs, server, log4j, data / "kafka")
    )
    pids: dict[str, int | None] = {}
    pg_url = None
    try:
        if pg_port is not None:
            pids["postgresql"], pg_url = await _start_postgresql(data / "postgresql", pg_port)
    finally:
        await formatting
    timeout = os.environ.get("STATION_MONGO_WRITE_TIMEOUT_S")
    pids["ferretdb"] = _spawn(
        "ferretdb",
        ferretdb_argv(
            art.ferretdb_binary,
            ep.mongo_port,
            data / "ferretdb",
            write_timeout_s=float(timeout) if timeout else None,
            postgresql_url=pg_url,
        ),
        run_dir() / "ferretdb" / "ferretdb.log",
    )
    pids["kafka"] = _spawn("kafka", kafka_argv(art.kafka_libs, server, log4j), conf / "stdout.log")
    if persistent:
        owner_state = {"run_dir": str(run_dir()), "pids": list(pids.values())}
        (data / "owner.json").write_text(json.dumps(owner_state))
    return pids


async def up(ep: Endpoints, *, persistent: bool = False, backend: str | None = None) -> float:
    """Start what is not running, wait until both answer; return the seconds it took.

    `persistent`: keep the data in `data_dir()` (reused if there) instead of the run folder.
    `backend`: FerretDB's store, by default `backend_from_environment()`.
    """
    started = time.monotonic()
    backend = backend or backend_from_environment()
    if backend not in BACKENDS:
        raise InfraError(f"FerretDB backend {backend!r}: want one of {', '.join(BACKENDS)}")
    pids = running()
    if None in pids.values():
        down()
        pids = await _start(ep, persistent=persistent, backend=backend)
    elif (found := current()) is not None and found.endpoints != ep:
        raise InfraError(
            f"already running from {run_dir()} on {found.endpoints.kafka_bootstrap_servers} "
            f"and {found.endpoints.mongodb_url}, not on the ports asked for; "
            "stop it (`scripts/infra down`) or use another STATION_INFRA_DIR"
        )
    elif found is not None and found.backend != backend:
        raise InfraError(
            f"already running from {run_dir()} with FerretDB on {found.backend}, not on "
            f"{backend}; stop it (`scripts/infra down`) or use another STATION_INFRA_DIR"
        )
    await check(
        ep,
        kafka_pid=pids["kafka"] or 0,
        ferretdb_pid=pids["ferretdb"] or 0,
        timeout_s=READY_TIMEOUT_S,
    )
    (run_dir() / "env").write_text(
        "".join(f"export {key}={value}\n" for key, value in ep.env().items())
    )
    return time.monotonic() - started


def down() -> list[str]:
    """Stop both servers (SIGTERM, then SIGKILL) and delete the run folder with its
    throwaway data; a kept data folder stays. Return what stopped."""
    found = current()
    stopped = [name for name, pid in running().items() if pid is not None]
    for name in stopped:  # FerretDB before PostgreSQL
        pid = _read_pid(name)
        if pid is not None:
            stop_group(pid, signum=signal.SIGINT if name == "postgresql" else signal.SIGTERM)
    if found is not None and found.persistent and found.data is not None:
        (found.data / "owner.json").unlink(missing_ok=True)
    shutil.rmtree(run_dir(), ignore_errors=True)
    return stopped


def reset() -> tuple[list[str], Path, bool]:
    """Delete the kept data folder, first stopping the servers of the run folder if they
    use it. Return what stopped, the folder and whether there was anything to delete."""
    data = data_dir()
    found = current()
    stopped = down() if found is not None and found.data == data else []
    owner = _owner(data)
    if owner is not None:
        raise InfraError(
            f"{data} is in use by the servers of {owner[0]} (pids {owner[1]}); "
            f"stop them first: STATION_INFRA_DIR={owner[0]} scripts/infra down"
        )
    existed = data.exists()
    shutil.rmtree(data, ignore_errors=True)
    return stopped, data, existed
