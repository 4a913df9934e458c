"""Run one service: check Kafka and MongoDB, serve HTTP and the broker, stop on SIGTERM.

A service's `app.py` describes itself with a `ServiceSpec`; `run_service` does the rest
the same way for all four. Clients are made here, at start-up, never at import time.
"""

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.health import health_routes
from shared.logging import configure_logging
from shared.settings import ServiceSettings, SettingsError

Document = dict[str, Any]
log = structlog.get_logger("station.runtime")


class StartupError(RuntimeError):
    """Kafka or MongoDB cannot be used; the message is one line for the operator."""


@dataclass
class Runtime:
    """The clients one running service owns."""

    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.mongo[self.settings.mongodb_database]


@dataclass(frozen=True)
class ServiceSpec:
    """What differs between services: name, settings, topics, and what to wire on the broker."""

    name: str
    settings_type: type[ServiceSettings]
    topics: Sequence[str]
    wire: Callable[[Runtime], None] = field(default=lambda _runtime: None)


def redact(url: str) -> str:
    """A MongoDB URL without its password, fit for a log line."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


async def check_kafka(settings: ServiceSettings, topics: Sequence[str]) -> None:
    """The brokers answer and every topic the service uses exists (auto-creation is off)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=int(settings.startup_timeout_s * 1000),
    )
    # aiokafka logs each failed connection attempt; the operator gets one line, ours
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        async with asyncio.timeout(settings.startup_timeout_s):
            await admin.start()
            existing = set(await admin.list_topics())
    except Exception as exc:  # noqa: BLE001 - aiokafka raises many kinds; all mean "unusable"
        reason = str(exc) or f"no answer within {settings.startup_timeout_s:.0f} s"
        raise StartupError(
            f"Kafka at {settings.kafka_bootstrap_servers} is not reachable ({reason}); "
            "check KAFKA_BOOTSTRAP_SERVERS"
        ) from None
    finally:
        await admin.close()
        aiokafka_log.setLevel(level)
    missing = [topic for topic in topics if topic not in existing]
    if missing:
        raise StartupError(
            f"Kafka at {settings.kafka_bootstrap_servers} lacks the topics {', '.join(missing)}; "
            "create them first (scripts/infra up, or the compose topics job)"
        )


async def connect_mongo(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    """A client whose server answered a ping within the start-up timeout."""
    timeout_ms = int(settings.startup_timeout_s * 1000)
    try:
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            settings.mongodb_url,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            tz_aware=True,
            appname=settings.consumer_group,
        )
    except PyMongoError as exc:
        raise StartupError(f"MONGODB_URL is not usable: {exc}") from None
    try:
        await client[settings.mongodb_database].command("ping")
    except PyMongoError as exc:
        await client.close()
        # pymongo appends timeouts and a topology dump; the first clause is the cause
        reason = str(exc).split(" (configured timeouts", 1)[0].split(", Timeout:", 1)[0]
        raise StartupError(
            f"MongoDB at {redact(settings.mongodb_url)} is not reachable ({reason}); "
            "check MONGODB_URL"
        ) from None
    return client


def _exit_quietly(signum: int, _frame: object) -> None:
    # uvicorn re-raises the signal after its graceful shutdown; by then there is nothing
    # left to do, and the default SIGINT handler would print a KeyboardInterrupt traceback.
    log.info("signal_handled", signal=signal.Signals(signum).name)


async def serve(spec: ServiceSpec, settings: ServiceSettings) -> int:
    """Check dependencies, then run broker and HTTP until a signal; return the exit code."""
    try:
        async with asyncio.TaskGroup() as checks:
            checks.create_task(check_kafka(settings, spec.topics))
            mongo_task = checks.create_task(connect_mongo(settings))
    except* StartupError as group:
        if mongo_task.done() and not mongo_task.cancelled() and not mongo_task.exception():
            await mongo_task.result().close()
        raise group.exceptions[0] from None
    mongo = mongo_task.result()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=spec.name,
        acks="all",
        enable_idempotence=True,
        logger=logging.getLogger(f"station.{spec.name}.faststream"),
    )
    runtime = Runtime(settings=settings, broker=broker, mongo=mongo)
    spec.wire(runtime)

    def announce_ready() -> None:
        log.info(
            "service_ready",
            http=f"http://{settings.http_host}:{settings.http_port}",
            database=settings.mongodb_database,
            topics=list(spec.topics),
        )

    app = AsgiFastStream(
        broker,
        asgi_routes=health_routes(runtime),
        asyncapi_path="/docs/asyncapi",
        logger=logging.getLogger(f"station.{spec.name}.app"),
        after_startup=[announce_ready],
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_quietly)
    try:
        await server.serve()
    finally:
        await mongo.close()
    if not server.started:
        return 1
    log.info("service_stopped")
    return 0


def run_service(spec: ServiceSpec) -> None:
    """Entry point of `python -m services.<name>`: exits 0 after a clean stop, 1 or 2 on failure."""
    try:
        settings = spec.settings_type.load()
    except SettingsError as exc:
        configure_logging(service=spec.name)
        log.error("startup_failed", reason=f"bad settings: {exc}")
        sys.exit(2)
    configure_logging(service=spec.name, level=settings.log_level, fmt=settings.log_format)
    try:
        code = asyncio.run(serve(spec, settings))
    except StartupError as exc:
        log.error("startup_failed", reason=str(exc))
        code = 1
    sys.exit(code)
