"""Driving the ledger service (tests/platform/ledger.py) from the delivery tests."""

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from shared._kit.envelope import CloudEvent
from tests.processes import ServiceProcess
from tests.support import Infra, command, consumer_lag, eventually, produce, read_topic

LEDGER = "tests.platform.ledger"


def entry(n: int, account: str, amount: int, **extra: object) -> CloudEvent:
    """The n-th `ledger.record_entry` command (its id is `cmd-<n>`)."""
    return command(
        "ledger.record_entry",
        account,
        {"entry_id": f"e{n}", "account": account, "amount": amount, **extra},
        command_id=f"cmd-{n}",
    )


@dataclass
class Ledger:
    """One ledger deployment: its own topics, database and consumer group."""

    infra: Infra
    name: str
    database: str

    @property
    def intake(self) -> str:
        return f"{self.name}.intake"

    @property
    def events(self) -> str:
        return f"{self.name}.events"

    def process(self, **extra: str) -> ServiceProcess:
        env = {
            **self.infra.env(),
            "LEDGER_TOPIC_PREFIX": self.name,
            "LEDGER_MONGODB_DATABASE": self.database,
            "LEDGER_CONSUMER_GROUP": self.name,
            "LEDGER_OUTBOX_RELAY_INTERVAL_S": "0.5",
            "LEDGER_OUTBOX_RELAY_GRACE_S": "1",
            "LEDGER_KAFKA_SESSION_TIMEOUT_MS": "6000",
            **extra,
        }
        return ServiceProcess("ledger", env, module=LEDGER)

    async def send(self, commands: list[CloudEvent]) -> None:
        await produce(
            self.infra.kafka_bootstrap_servers,
            self.intake,
            [(c.key, c.to_bytes()) for c in commands],
        )

    async def accounts(self) -> dict[str, dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongodb_url)
        try:
            return {doc["_id"]: doc async for doc in client[self.database]["accounts"].find()}
        finally:
            await client.close()

    async def applied(self) -> list[str]:
        """Every entry id applied, in no particular order, duplicates included."""
        return [e for doc in (await self.accounts()).values() for e in doc["state"]["entries"]]

    async def wait_applied(self, count: int, timeout_s: float = 120) -> None:
        async def enough() -> bool:
            return len(await self.applied()) >= count

        await eventually(enough, timeout_s=timeout_s, what=f"{count} entries applied")

    async def wait_drained(self, timeout_s: float = 30) -> None:
        """Until the group has committed every record of the intake."""

        async def drained() -> bool:
            return (
                await consumer_lag(self.infra.kafka_bootstrap_servers, self.name, self.intake) == 0
            )

        await eventually(drained, timeout_s=timeout_s, what="consumer lag back to zero")

    async def published(self, at_least: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        """The events topic as parsed CloudEvents, once `at_least` distinct ids are there."""
        records = await read_topic(
            self.infra.kafka_bootstrap_servers,
            self.events,
            until=lambda r: len({m.value for m in r}) >= at_least,
            timeout_s=timeout_s,
        )
        return [json.loads(m.value) for m in records]


class PrivateFerretDB:
    """A FerretDB of one test's own, so stopping it disturbs no other test."""

    def __init__(self, binary: Path, data: Path, port: int) -> None:
        self.binary, self.data, self.port = binary, data, port
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary),
            "-listen",
            f"127.0.0.1:{self.port}",
            "-data",
            str(self.data),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await eventually(self._answers, timeout_s=30, what="private FerretDB answers")

    async def _answers(self) -> bool:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.url, serverSelectionTimeoutMS=500
        )
        try:
            await client.admin.command("ping")
        except PyMongoError:
            return False
        finally:
            await client.close()
        return True

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
