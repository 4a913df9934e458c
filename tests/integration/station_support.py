"""The whole station for an end-to-end test: the four services as processes on the
contract's own topics, each with a consumer group and a database of its own, and the
operators' CLI as a process."""

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient

from cli.events import EVENTS_TOPICS, INTAKE_TOPICS
from infra.topics import PRIVATE_TOPICS
from tests.processes import ServiceProcess
from tests.support import ROOT, Infra, start_group_at_end

SERVICES = ("enterprise", "mediation", "outreach", "notifier")
# every topic a service of the station may read: its groups start at their ends, so the
# services see only what the test sends, whatever earlier tests left on the topics
TOPICS = [*INTAKE_TOPICS, *EVENTS_TOPICS, *PRIVATE_TOPICS]


@asynccontextmanager
async def running_station(
    infra: Infra, suffix: str
) -> AsyncIterator[tuple[dict[str, ServiceProcess], dict[str, str]]]:
    """The four services ready, with their databases by service (dropped afterwards)."""
    databases = {name: f"{name}_{suffix}".replace("-", "_") for name in SERVICES}
    processes = []
    for name in SERVICES:
        group = f"{name}-{suffix}"
        await start_group_at_end(infra.kafka_bootstrap_servers, group, TOPICS)
        up = name.upper()
        processes.append(
            ServiceProcess(
                name,
                {
                    **infra.env(),
                    f"{up}_CONSUMER_GROUP": group,
                    f"{up}_MONGODB_DATABASE": databases[name],
                    f"{up}_KAFKA_SESSION_TIMEOUT_MS": "6000",
                    f"{up}_TIMER_INTERVAL_S": "0.2",
                    # notifications go to the log channel: no gateway needed, at any hour
                    "NOTIFIER_CHANNELS": "log",
                    "NOTIFIER_QUIET_HOURS_START": "00:00",
                    "NOTIFIER_QUIET_HOURS_END": "00:00",
                },
            )
        )
    try:
        for process in processes:
            await process.start()
        for process in processes:
            await process.wait_ready(timeout_s=60)
        yield {p.name: p for p in processes}, databases
    finally:
        for process in processes:
            if process.proc is not None:
                await process.stop()
                await process.kill()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
        for database in databases.values():
            await client.drop_database(database)
        await client.close()


async def run_cli(env: dict[str, str], *args: str, timeout_s: float) -> tuple[int, str]:
    """`python -m cli ARGS…`: its exit code and what it printed; killed past `timeout_s`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        raise AssertionError(
            f"{args[0]} still running after {timeout_s} s:\n{out.decode()}"
        ) from None
    return proc.returncode or 0, out.decode()
