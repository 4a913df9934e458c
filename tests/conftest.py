"""Where the tests find Kafka and MongoDB, and fresh ids, topics and databases for each test.

Order (architecture.md): `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URL` from the
environment; else Kafka and MongoDB containers where a Docker engine answers; else the
project's local infrastructure (`scripts/infra`), started here and stopped at the end
if it was not already running.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from infra.credentials import ADMIN, Credentials
from infra.kafka import ensure_topics
from infra.local import credentials, down, up
from infra.places import Endpoints, current, running
from infra.stack import docker_engine_answers
from infra.topics import contract_topics
from shared._kit.kafka_client import PROPERTIES_VARIABLE
from tests.support import Infra

Document = dict[str, object]


def _containers(stack: ExitStack) -> Infra:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    kafka = stack.enter_context(KafkaContainer().with_kraft())
    mongo = stack.enter_context(MongoDbContainer("mongo:8.0"))
    found = Infra(
        kafka_bootstrap_servers=kafka.get_bootstrap_server(),
        mongodb_url=mongo.get_connection_url(),
        source="testcontainers",
    )
    asyncio.run(ensure_topics(found.kafka_bootstrap_servers, contract_topics()))
    return found


def _as_admin(found: Infra) -> Iterator[Infra]:
    """`found`, with every client of the test process and of the services it starts
    signed in as the local broker's admin (all take their identity from the environment,
    shared/_kit/kafka_client.py); a test that needs a service's own user asks for it."""
    with pytest.MonkeyPatch.context() as env:
        if found.kafka_users is not None:
            env.setenv(PROPERTIES_VARIABLE, str(found.kafka_users.properties(ADMIN)))
        yield found


def _local_users(bootstrap: str) -> Credentials | None:
    """The users of the local infrastructure if `bootstrap` is its broker."""
    here = current()
    if here is None or here.endpoints.kafka_bootstrap_servers != bootstrap:
        return None
    return credentials()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The Kafka broker and MongoDB-compatible server every integration test talks to."""
    kafka, mongodb = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if kafka and mongodb:
        # `eval "$(scripts/infra env)"` names the operators' file; the harness is admin
        found = Infra(kafka, mongodb, "environment", _local_users(kafka))
        yield from _as_admin(found)
        return
    if docker_engine_answers():
        with ExitStack() as stack:
            yield _containers(stack)
        return
    ep = Endpoints.from_environment()
    we_started = None in running().values()
    asyncio.run(up(ep))
    try:
        yield from _as_admin(
            Infra(ep.kafka_bootstrap_servers, ep.mongodb_url, "scripts/infra", credentials())
        )
    finally:
        if we_started:
            down()


@pytest.fixture
def unique_id() -> Callable[[str], str]:
    """Ids no other test (or earlier run) uses, so tests run in any order."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fresh_topic(infra: Infra, unique_id: Callable[[str], str]) -> Callable[..., Awaitable[str]]:
    """Create a topic of its own for one test."""

    async def create(prefix: str = "test", partitions: int = 6) -> str:
        name = unique_id(f"{prefix}.t")
        await ensure_topics(infra.kafka_bootstrap_servers, [name], partitions=partitions)
        return name

    return create


@pytest.fixture
async def mongo_db(
    infra: Infra, unique_id: Callable[[str], str]
) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of its own for one test, dropped afterwards."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infra.mongodb_url, serverSelectionTimeoutMS=10_000, tz_aware=True
    )
    name = unique_id("test").replace("-", "_")
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
