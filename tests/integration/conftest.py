"""Fixtures of the delivery tests: a ledger deployment and a private FerretDB."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infra.artifacts import cache_dir, ferretdb_binary
from infra.kafka import ensure_topics
from shared._kit.topics import dlq_topic
from tests.integration.enterprise_support import enterprise
from tests.platform.harness import Ledger, PrivateFerretDB
from tests.support import Infra, free_port

__all__ = ["enterprise", "ledger", "private_ferretdb"]


@pytest.fixture
async def ledger(infra: Infra, unique_id: Callable[[str], str]) -> AsyncIterator[Ledger]:
    """A ledger with topics, consumer group and database no other test uses."""
    name = unique_id("ledger")
    topics = [f"{name}.intake", f"{name}.events"]
    await ensure_topics(infra.kafka_bootstrap_servers, [*topics, *map(dlq_topic, topics)])
    found = Ledger(infra=infra, name=name, database=name.replace("-", "_"))
    yield found
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    await client.drop_database(found.database)
    await client.close()


@pytest.fixture
async def private_ferretdb(tmp_path: Path) -> AsyncIterator[PrivateFerretDB]:
    binary = await ferretdb_binary(cache_dir())
    server = PrivateFerretDB(binary, tmp_path / "ferretdb", free_port())
    await server.start()
    yield server
    await server.stop()
