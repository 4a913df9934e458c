"""Start-up checks: Kafka and MongoDB answer, or the service stops with one clear line."""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pymongo
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from shared._kit.failures import Server, server_of
from shared._kit.kafka_client import refused_credentials
from shared._kit.settings import ServiceSettings

Document = dict[str, Any]
STARTUP_RETRY_S = 0.25


class StartupError(RuntimeError):
    """Kafka or MongoDB cannot be used; the message is one line for the operator."""


def redact(url: str) -> str:
    """A MongoDB URL without its password, fit for a log line."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


async def check_kafka(settings: ServiceSettings, topics: Sequence[str]) -> None:
    """The brokers answer, take the service's credentials, and every topic the service
    uses exists (auto-creation is off) and is visible to it (DESCRIBE)."""
    who = settings.kafka_identity
    admin = AIOKafkaAdminClient(
        **settings.kafka_options(), request_timeout_ms=int(settings.startup_timeout_s * 1000)
    )
    # aiokafka logs each failed connection attempt; the operator gets one line, ours
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        existing = await _topics_within(admin, settings.startup_timeout_s)
    except Exception as exc:  # noqa: BLE001 - aiokafka raises many kinds; all mean "unusable"
        # a short look: the start-up timeout is already spent when no broker answers
        probe = refused_credentials(settings.kafka_bootstrap_servers, who, timeout_s=5.0)
        if refused := await probe:
            raise StartupError(
                f"Kafka at {settings.kafka_bootstrap_servers}: {refused}; "
                "check KAFKA_CLIENT_PROPERTIES or KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD"
            ) from None
        reason = str(exc) or f"no answer within {settings.startup_timeout_s:.0f} s"
        hint = (
            "check KAFKA_BOOTSTRAP_SERVERS"
            if who.authenticated
            else "check KAFKA_BOOTSTRAP_SERVERS, and KAFKA_CLIENT_PROPERTIES if the broker "
            "requires authentication"
        )
        raise StartupError(
            f"Kafka at {settings.kafka_bootstrap_servers} is not reachable ({reason}; "
            f"client: {who.describe()}); {hint}"
        ) from None
    finally:
        await admin.close()
        aiokafka_log.setLevel(level)
    missing = [topic for topic in topics if topic not in existing]
    if missing:
        raise StartupError(
            f"Kafka at {settings.kafka_bootstrap_servers} lacks the topics {', '.join(missing)} "
            f"or does not let the client ({who.describe()}) see them; create them first "
            "(scripts/infra up, or the compose topics job) with their ACLs"
        )


async def _topics_within(admin: AIOKafkaAdminClient, timeout_s: float) -> set[str]:
    """The broker's topics, asked again until `timeout_s` is spent: a connection that is
    not ready yet (aiokafka's `NodeNotReadyError` right after bootstrap, seen on a loaded
    machine once every client signs in with SCRAM) is a moment, not a verdict."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with asyncio.timeout(timeout_s):
        await admin.start()
        while True:
            try:
                return set(await admin.list_topics())
            except (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError):
                if loop.time() + STARTUP_RETRY_S >= deadline:
                    raise
                await asyncio.sleep(STARTUP_RETRY_S)


async def connect_mongo(settings: ServiceSettings) -> tuple[AsyncMongoClient[Document], Server]:
    """A client whose server answered within the start-up timeout, and which server it is.

    Every operation of the client has a deadline (`mongodb_timeout_s`), so a server that
    stops answering becomes a timeout, retried as an outage, never a hang.
    """
    timeout_ms = int(settings.startup_timeout_s * 1000)
    try:
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            settings.mongodb_url,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            timeoutMS=int(settings.mongodb_timeout_s * 1000),
            tz_aware=True,
            appname=settings.consumer_group,
        )
    except PyMongoError as exc:
        raise StartupError(f"MONGODB_URL is not usable: {exc}") from None
    try:
        with pymongo.timeout(settings.startup_timeout_s):
            info = await client[settings.mongodb_database].command("buildInfo")
    except PyMongoError as exc:
        await client.close()
        # pymongo appends timeouts and a topology dump; the first clause is the cause
        reason = str(exc).split(" (configured timeouts", 1)[0].split(", Timeout:", 1)[0]
        raise StartupError(
            f"MongoDB at {redact(settings.mongodb_url)} is not reachable ({reason}); "
            "check MONGODB_URL"
        ) from None
    return client, server_of(info)
