"""`scripts/infra`: kept data survives `down` and `up --persistent`; `reset` deletes it;
a plain `up` (tests, CI) always starts from nothing.

Runs `python -m infra` with a run folder, a data folder and ports of its own.
"""

import asyncio
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infra.artifacts import cache_dir, kafka_libs
from infra.credentials import USERS
from infra.kafka import ensure_topics, round_trip
from infra.servers import format_kafka, kafka_config
from shared._kit.kafka_client import PROPERTIES_VARIABLE
from tests.platform.private_kafka import free_low_port
from tests.support import ROOT, produce, read_topic

pytestmark = pytest.mark.integration

TOPIC = "kept.records"


async def _infra(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    text = out.decode()
    assert proc.returncode == 0, text
    return text


async def _document(url: str) -> dict[str, Any] | None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        return await client["kept"]["docs"].find_one({"_id": "one"})
    finally:
        await client.close()


async def _records(bootstrap: str) -> list[bytes]:
    records = await read_topic(bootstrap, TOPIC, until=lambda r: len(r) >= 1, timeout_s=30)
    return [r.value for r in records if r.value is not None]


def _own_infra(tmp_path: Path) -> tuple[dict[str, str], int, int]:
    """The environment of `python -m infra` with folders and ports of its own; the ports
    of its Kafka and MongoDB."""
    kafka_port = free_low_port()
    controller_port = free_low_port({kafka_port})
    mongo_port = free_low_port({kafka_port, controller_port})
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", PROPERTIES_VARIABLE)
        },
        "STATION_INFRA_DIR": str(tmp_path / "run"),
        "STATION_DATA_DIR": str(tmp_path / "data"),
        "STATION_KAFKA_PORT": str(kafka_port),
        "STATION_KAFKA_CONTROLLER_PORT": str(controller_port),
        "STATION_MONGO_PORT": str(mongo_port),
    }
    return env, kafka_port, mongo_port


async def test_kept_data_survives_down_and_up_and_only_reset_deletes_it(
    tmp_path: Path, unique_id: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, kafka_port, mongo_port = _own_infra(tmp_path)
    data = tmp_path / "data"
    bootstrap, url = f"127.0.0.1:{kafka_port}", f"mongodb://127.0.0.1:{mongo_port}/"
    marker = unique_id("record").encode()
    try:
        await _infra(env, "up", "--persistent")
        # this test's clients sign in as that broker's admin; its users are kept data too
        monkeypatch.setenv(PROPERTIES_VARIABLE, str(data / "admin.properties"))
        assert stat.S_IMODE(os.stat(data / "admin.properties").st_mode) == 0o600
        cluster = (data / "kafka" / "meta.properties").read_text()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        await client["kept"]["docs"].insert_one({"_id": "one", "n": 1})
        await client.close()
        await ensure_topics(bootstrap, [TOPIC], partitions=1)
        await produce(bootstrap, TOPIC, [(b"k", marker)])
        down = await _infra(env, "down")
        assert f"kept:    {data}" in down
        assert not (tmp_path / "run").exists()

        await _infra(env, "up", "--persistent")
        assert await _document(url) == {"_id": "one", "n": 1}
        assert await _records(bootstrap) == [marker]
        assert (data / "kafka" / "meta.properties").read_text() == cluster, "Kafka re-formatted"

        reset = await _infra(env, "reset")
        assert "stopped: kafka, ferretdb" in reset
        assert f"deleted: {data}: Kafka's topics, records" in reset
        assert not data.exists()

        await _infra(env, "up")  # what tests and CI run: throwaway data, from nothing
        monkeypatch.setenv(PROPERTIES_VARIABLE, str(tmp_path / "run" / "data" / "admin.properties"))
        assert await _document(url) is None
        assert not data.exists()
        assert (tmp_path / "run" / "data" / "kafka" / "meta.properties").exists()
    finally:
        await _infra(env, "down")
    assert not (tmp_path / "run").exists()


async def test_a_data_folder_kept_from_before_authentication_gets_its_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Formatted without users (as before issue 22), its broker would let nobody in: `up`
    adds them through the controller listener, once, and keeps the data."""
    env, kafka_port, _ = _own_infra(tmp_path)
    data = tmp_path / "data"
    server, log4j = kafka_config(
        tmp_path / "old", data / "kafka", kafka_port, int(env["STATION_KAFKA_CONTROLLER_PORT"])
    )
    assert await asyncio.to_thread(
        format_kafka, await kafka_libs(cache_dir()), server, log4j, data / "kafka"
    )
    cluster = (data / "kafka" / "meta.properties").read_text()
    try:
        await _infra(env, "up", "--persistent")
        assert (data / "kafka-users").read_text().split() == list(USERS)
        monkeypatch.setenv(PROPERTIES_VARIABLE, str(data / "admin.properties"))
        await round_trip(f"127.0.0.1:{kafka_port}", "_infra.healthcheck", timeout_s=30)
        assert (data / "kafka" / "meta.properties").read_text() == cluster, "Kafka re-formatted"
    finally:
        await _infra(env, "down")
