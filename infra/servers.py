"""How the local Kafka broker and FerretDB are configured and launched.

Shared by `scripts/infra` (infra/local.py) and the tests that run private servers
(tests/platform/private_kafka.py). Configuration and logs go to a throwaway folder;
data to a folder of its own, which may outlive them.
"""

import asyncio
import base64
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymongo import AsyncMongoClient

from infra.credentials import ADMIN, CONTROLLER, MECHANISM, Credentials
from shared._kit.kafka_client import write_private


class InfraError(RuntimeError):
    """The local infrastructure could not be started or is not answering."""


def cluster_id() -> str:
    # Kafka's Uuid.randomUuid: 16 random bytes, URL-safe base64 without padding, never "-…"
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _listeners(kafka_port: int, controller_port: int, credentials: Credentials | None) -> list[str]:
    """Without credentials, PLAINTEXT everywhere. With them, clients sign in with
    SASL/SCRAM-SHA-512 and the authorizer denies whatever no ACL allows; the broker
    reaches its own controller with SASL/PLAIN as `controller` (SCRAM credentials live in
    the metadata log the controller serves, so they cannot guard its listener), and speaks
    to itself, between brokers, as `admin`. Both are super users: a PLAINTEXT controller
    listener would have made ANONYMOUS one, open to any local process."""
    if credentials is None:
        return [
            f"listeners=PLAINTEXT://127.0.0.1:{kafka_port},"
            f"CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{kafka_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ]
    admin, controller = credentials.passwords[ADMIN], credentials.passwords[CONTROLLER]
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return [
        f"listeners=SASL_PLAINTEXT://127.0.0.1:{kafka_port},"
        f"CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{kafka_port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_PLAINTEXT",
        "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"listener.name.sasl_plaintext.{MECHANISM.lower()}.sasl.jaas.config={scram} required "
        f'username="{ADMIN}" password="{admin}";',
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={plain} required "
        f'username="{CONTROLLER}" password="{controller}" user_{CONTROLLER}="{controller}";',
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        f"super.users=User:{ADMIN};User:{CONTROLLER}",
    ]


def kafka_config(
    conf: Path,
    data: Path,
    kafka_port: int,
    controller_port: int,
    credentials: Credentials | None = None,
) -> tuple[Path, Path]:
    """server.properties (0600: it holds the broker's own passwords) and log4j2.properties
    in `conf`; the broker's log in `data`; SASL and ACLs when given `credentials`."""
    conf.mkdir(parents=True, exist_ok=True)
    server = conf / "server.properties"
    write_private(
        server,
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
                *_listeners(kafka_port, controller_port, credentials),
                f"log.dirs={data}",
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
                # an offset commit waits this long for others to share its write (default
                # 5 ms): every batch a service finishes pays it once, so commit at once
                "group.coordinator.append.linger.ms=0",
                "",
            ]
        ),
    )
    log4j = conf / "log4j2.properties"
    log4j.write_text(
        "\n".join(
            [
                "status = warn",
                "appender.file.type = File",
                "appender.file.name = FILE",
                f"appender.file.fileName = {conf / 'server.log'}",
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


def java_argv(libs: Path, log4j: Path, main: str, *args: str) -> list[str]:
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


def kafka_formatted(data: Path) -> bool:
    """True when `data` already holds a formatted Kafka log (its cluster id is kept)."""
    return (data / "meta.properties").exists()


def format_kafka(
    libs: Path, server: Path, log4j: Path, data: Path, credentials: Credentials | None = None
) -> bool:
    """Format `data` with a new cluster id unless it is formatted; True if it formatted.
    The SCRAM users of `credentials` are written into the new metadata log."""
    if kafka_formatted(data):
        return False
    # the passwords go in a private argument file (`java @file`, which must hold the main
    # class too), not on a command line every local user can read in /proc
    arguments = server.with_name("format.args")
    scram = credentials.scram_arguments() if credentials is not None else []
    main = ["kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id()]
    write_private(arguments, "\n".join(f'"{arg}"' for arg in [*main, "-c", str(server), *scram]))
    try:
        result = subprocess.run(
            java_argv(libs, log4j, f"@{arguments}"), capture_output=True, text=True, check=False
        )
    finally:
        arguments.unlink(missing_ok=True)
    if result.returncode != 0:
        raise InfraError(f"kafka storage format failed: {result.stdout}{result.stderr}")
    return True


def kafka_argv(libs: Path, server: Path, log4j: Path) -> list[str]:
    return java_argv(libs, log4j, "kafka.Kafka", str(server))


def ferretdb_argv(
    binary: Path,
    port: int,
    data: Path | None,
    *,
    write_timeout_s: float | None = None,
    postgresql_url: str | None = None,
) -> list[str]:
    """FerretDB on its SQLite backend in `data`, or on PostgreSQL at `postgresql_url`."""
    argv = [str(binary), "-listen", f"127.0.0.1:{port}", "-log-level", "warn"]
    if postgresql_url is not None:
        argv += ["-handler", "postgresql", "-postgresql-url", postgresql_url]
    elif data is not None:
        argv += ["-handler", "sqlite", "-data", str(data)]
    else:
        raise InfraError("FerretDB needs a data folder (SQLite) or a PostgreSQL URL")
    if write_timeout_s is not None:
        argv += ["-write-timeout", f"{write_timeout_s}s"]
    return argv


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    # a zombie has exited; only its parent has not reaped it yet
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_group(pid: int, timeout_s: float = 20.0, signum: int = signal.SIGTERM) -> None:
    """`signum` (SIGTERM) to the process group `pid` leads, SIGKILL if still alive after
    `timeout_s`. PostgreSQL takes SIGINT: its SIGTERM waits for every client to leave."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)


async def wait_until(
    name: str,
    pid: int,
    probe: Callable[[], Awaitable[object]],
    deadline: float,
    log_tail: Callable[[str], str],
) -> None:
    """Retry `probe` until it answers; fail at once if the process died."""
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise InfraError(f"{name} exited during start-up; last log lines:\n{log_tail(name)}")
        try:
            await probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
            await asyncio.sleep(0.25)
        else:
            return
    raise InfraError(
        f"{name} not ready in time ({last_error!r}); last log lines:\n{log_tail(name)}"
    )


async def mongo_ping(url: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
    )
    try:
        await client.admin.command("ping")
    finally:
        await client.close()
