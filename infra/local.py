"""Start, check and stop a single-node Kafka broker and FerretDB on loopback.

Both run as detached processes whose pids live in a throwaway run folder; data is
wiped on every fresh `up`. Readiness means a real produce/consume round trip through
the broker and a real Mongo `ping`, not an open port.
"""

import asyncio
import base64
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pymongo import AsyncMongoClient

from infra.artifacts import Artifacts, cache_dir, ensure_artifacts
from infra.kafka import ensure_topics, round_trip
from infra.topics import contract_topics

HEALTHCHECK_TOPIC = "_infra.healthcheck"
READY_TIMEOUT_S = 120.0


class InfraError(RuntimeError):
    """The local infrastructure could not be started or is not answering."""


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
        return cls(
            kafka_port=int(os.environ.get("STATION_KAFKA_PORT", "39092")),
            controller_port=int(os.environ.get("STATION_KAFKA_CONTROLLER_PORT", "39093")),
            mongo_port=int(os.environ.get("STATION_MONGO_PORT", "37017")),
        )


def run_dir() -> Path:
    """Pids, logs and data: throwaway, outside the clone."""
    configured = os.environ.get("STATION_INFRA_DIR")
    if configured:
        return Path(configured).resolve()
    return Path(tempfile.gettempdir()) / f"county-station-infra-{os.getuid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    # a zombie has exited; only its parent has not reaped it yet
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def _read_pid(name: str) -> int | None:
    pid_file = run_dir() / f"{name}.pid"
    try:
        pid = int(pid_file.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _spawn(name: str, argv: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (run_dir() / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def _cluster_id() -> str:
    # Kafka's Uuid.randomUuid: 16 random bytes, URL-safe base64 without padding, never "-…"
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _kafka_config(root: Path, ep: Endpoints) -> tuple[Path, Path]:
    server = root / "server.properties"
    server.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{ep.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{ep.kafka_port},"
                f"CONTROLLER://127.0.0.1:{ep.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{ep.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={root / 'data'}",
                "num.partitions=6",
                "auto.create.topics.enable=false",
                # one node: every internal topic has a single replica
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "min.insync.replicas=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
    )
    log4j = root / "log4j2.properties"
    log4j.write_text(
        "\n".join(
            [
                "status = warn",
                "appender.file.type = File",
                "appender.file.name = FILE",
                f"appender.file.fileName = {root / 'server.log'}",
                "appender.file.layout.type = PatternLayout",
                "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                "rootLogger.level = INFO",
                "rootLogger.appenderRef.file.ref = FILE",
                "logger.kafka.name = org.apache.kafka",
                "logger.kafka.level = WARN",
                "logger.raft.name = kafka.server.KafkaRaftServer",
                "logger.raft.level = INFO",
                "",
            ]
        )
    )
    return server, log4j


def _java_argv(libs: Path, log4j: Path, main: str, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        "-Xmx1g",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]


def _start_kafka(art: Artifacts, ep: Endpoints) -> int:
    root = run_dir() / "kafka"
    root.mkdir(parents=True)
    server, log4j = _kafka_config(root, ep)
    fmt = _java_argv(
        art.kafka_libs,
        log4j,
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        _cluster_id(),
        "-c",
        str(server),
    )
    result = subprocess.run(fmt, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InfraError(f"kafka storage format failed: {result.stdout}{result.stderr}")
    return _spawn(
        "kafka", _java_argv(art.kafka_libs, log4j, "kafka.Kafka", str(server)), root / "stdout.log"
    )


def _start_ferretdb(art: Artifacts, ep: Endpoints) -> int:
    root = run_dir() / "ferretdb"
    argv = [
        str(art.ferretdb_binary),
        "-listen",
        f"127.0.0.1:{ep.mongo_port}",
        "-data",
        str(root / "data"),
        "-log-level",
        "warn",
    ]
    return _spawn("ferretdb", argv, root / "ferretdb.log")


def _log_tail(name: str) -> str:
    log = run_dir() / name / ("stdout.log" if name == "kafka" else "ferretdb.log")
    extra = run_dir() / "kafka" / "server.log"
    lines: list[str] = []
    for file in (log, extra) if name == "kafka" else (log,):
        if file.exists():
            lines += file.read_text(errors="replace").splitlines()[-15:]
    return "\n".join(lines)


async def _wait_until(
    name: str, pid: int, probe: Callable[[], Awaitable[object]], deadline: float
) -> None:
    """Retry `probe` until it answers; fail at once if the process died."""
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            raise InfraError(f"{name} exited during start-up; last log lines:\n{_log_tail(name)}")
        try:
            await probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
            await asyncio.sleep(0.25)
        else:
            return
    raise InfraError(
        f"{name} not ready in {READY_TIMEOUT_S:.0f} s ({last_error!r}); "
        f"last log lines:\n{_log_tail(name)}"
    )


async def _mongo_ping(url: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
    )
    try:
        await client.admin.command("ping")
    finally:
        await client.close()


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
        _wait_until("ferretdb", ferretdb_pid, lambda: _mongo_ping(ep.mongodb_url), deadline),
        _wait_until("kafka", kafka_pid, lambda: _kafka_ready(ep.kafka_bootstrap_servers), deadline),
    )


def running() -> dict[str, int | None]:
    """The pid of each local server that is alive, or None."""
    return {name: _read_pid(name) for name in ("kafka", "ferretdb")}


async def up(ep: Endpoints) -> float:
    """Start what is not running, wait until both answer; return the seconds it took."""
    started = time.monotonic()
    pids = running()
    if None in pids.values():
        down()
        for port in (ep.kafka_port, ep.controller_port, ep.mongo_port):
            if not _port_free(port):
                raise InfraError(
                    f"port 127.0.0.1:{port} is taken by another program; "
                    "set STATION_KAFKA_PORT / STATION_MONGO_PORT to free ones"
                )
        art = await ensure_artifacts(cache_dir())
        run_dir().mkdir(parents=True, exist_ok=True)
        pids = {"ferretdb": _start_ferretdb(art, ep), "kafka": _start_kafka(art, ep)}
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


def _stop(pid: int, timeout_s: float = 20.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)


def down() -> list[str]:
    """Stop both servers (SIGTERM, then SIGKILL) and delete the run folder; return what stopped."""
    stopped = [name for name, pid in running().items() if pid is not None]
    for name in stopped:
        pid = _read_pid(name)
        if pid is not None:
            _stop(pid)
    shutil.rmtree(run_dir(), ignore_errors=True)
    return stopped
