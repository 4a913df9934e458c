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
import time
from dataclasses import asdict
from pathlib import Path

from infra import postgresql
from infra.acls import contract_acls, ensure_acls
from infra.artifacts import cache_dir, ensure_artifacts
from infra.credentials import (
    ADMIN,
    OPERATORS,
    USERS,
    Credentials,
    ensure_credentials,
    read_credentials,
)
from infra.kafka import ensure_topics, round_trip
from infra.places import (
    BACKENDS,
    Endpoints,
    backend_from_environment,
    current,
    data_dir,
    postgresql_port,
    read_pid,
    run_dir,
    running,
)
from infra.scram import add_users
from infra.servers import (
    InfraError,
    cluster_id,
    ferretdb_argv,
    format_kafka,
    kafka_argv,
    kafka_config,
    kafka_formatted,
    mongo_ping,
    pid_alive,
    port_free,
    stop_group,
    wait_until,
)
from infra.topics import ensure_contract_topics
from shared._kit.kafka_client import PROPERTIES_VARIABLE, KafkaIdentity

_cluster_id = cluster_id  # the name tests/unit/test_plumbing.py knows

HEALTHCHECK_TOPIC = "_infra.healthcheck"
READY_TIMEOUT_S = 120.0


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


def credentials() -> Credentials | None:
    """The Kafka users of the servers running from the run folder (None: no auth)."""
    found = current()
    if found is None or found.data is None:
        return None
    return read_credentials(found.data)


def client_env(ep: Endpoints) -> dict[str, str]:
    """What a shell needs to reach the local servers: their addresses and, with
    authentication on, the operators' client properties (`station` and the tests' harness
    take the admin's from the data folder themselves)."""
    env = ep.env()
    if (users := credentials()) is not None:
        env[PROPERTIES_VARIABLE] = str(users.properties(OPERATORS))
    return env


async def _kafka_ready(bootstrap: str, admin: KafkaIdentity | None) -> None:
    if admin is not None:
        await ensure_acls(bootstrap, contract_acls(), admin)
    await ensure_contract_topics(bootstrap, identity=admin)
    await ensure_topics(bootstrap, [HEALTHCHECK_TOPIC], partitions=1, identity=admin)
    await round_trip(bootstrap, HEALTHCHECK_TOPIC, timeout_s=20, identity=admin)


async def check(ep: Endpoints, *, kafka_pid: int, ferretdb_pid: int, timeout_s: float) -> None:
    """Both answer for real: a Mongo ping, ACLs and topics (with their retention) in place,
    and a Kafka round trip, signed in as the admin user when authentication is on."""
    users = credentials()
    admin = users.identity(ADMIN) if users is not None else None
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
            lambda: _kafka_ready(ep.kafka_bootstrap_servers, admin),
            deadline,
            _log_tail,
        ),
    )


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
    # a Kafka log formatted before authentication was on has no users: added once started
    users_added = data / "kafka-users"
    without_users = kafka_formatted(data / "kafka") and not users_added.exists()
    users = ensure_credentials(data)
    server, log4j = kafka_config(conf, data / "kafka", ep.kafka_port, ep.controller_port, users)
    formatting = asyncio.create_task(
        asyncio.to_thread(format_kafka, art.kafka_libs, server, log4j, data / "kafka", users)
    )
    pids: dict[str, int | None] = {}
    pg_url = None
    try:
        if pg_port is not None:
            pids["postgresql"], pg_url = await _start_postgresql(data / "postgresql", pg_port)
    finally:
        if await formatting:  # formatted now, with its users
            users_added.write_text("".join(f"{user}\n" for user in USERS))
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
    pids["kafka"] = kafka = _spawn(
        "kafka", kafka_argv(art.kafka_libs, server, log4j), conf / "stdout.log"
    )
    if without_users:
        await wait_until(
            "kafka",
            kafka,
            lambda: add_users("127.0.0.1", ep.controller_port, users),
            time.monotonic() + READY_TIMEOUT_S,
            _log_tail,
        )
        users_added.write_text("".join(f"{user}\n" for user in USERS))
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
        "".join(f"export {key}={value}\n" for key, value in client_env(ep).items())
    )
    return time.monotonic() - started


def down() -> list[str]:
    """Stop both servers (SIGTERM, then SIGKILL) and delete the run folder with its
    throwaway data; a kept data folder stays. Return what stopped."""
    found = current()
    stopped = [name for name, pid in running().items() if pid is not None]
    for name in stopped:  # FerretDB before PostgreSQL
        pid = read_pid(name)
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
