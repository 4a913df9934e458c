"""The demo as an end-to-end test: the four services as separate processes on the contract's
topics (each with a consumer group starting at the topics' end and a database of its own),
real Kafka and FerretDB, and `python -m cli demo` playing the five seed stories into them.
Every story must complete; its chain is then read back from the topics on its own."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from cli.events import EVENTS_TOPICS, INTAKE_TOPICS, Event, read_all
from tests.processes import ServiceProcess
from tests.support import ROOT, Infra, start_group_at_end

pytestmark = pytest.mark.integration

SERVICES = ("enterprise", "mediation", "outreach", "notifier")
TOPICS = [*INTAKE_TOPICS, *EVENTS_TOPICS]


@pytest.fixture
async def stack(infra: Infra, unique_id: Callable[[str], str]) -> AsyncIterator[dict[str, int]]:
    """The four services, each a process; yields their HTTP ports."""
    suffix = unique_id("demo")
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
        yield {p.name: p.port for p in processes}
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
        raise AssertionError(f"demo still running after {timeout_s} s:\n{out.decode()}") from None
    return proc.returncode or 0, out.decode()


def _of(events: list[Event], correlation: str, event_type: str) -> list[Event]:
    return [e for e in events if e.correlationid == correlation and e.type == event_type]


async def test_the_five_seed_stories_complete_across_the_four_services(
    infra: Infra, stack: dict[str, int], unique_id: Callable[[str], str]
) -> None:
    run = unique_id("r")[-6:]
    env = {
        **os.environ,
        **infra.env(),
        "COLUMNS": "160",
        **{f"{name.upper()}_HTTP_PORT": str(port) for name, port in stack.items()},
    }
    code, out = await run_cli(env, "demo", "--lang", "en", "--run", run, timeout_s=240)
    assert code == 0, out
    assert "5/5 stories complete" in out, out
    assert "disputes resolved" in out, out  # the final figures

    events = await read_all(infra.kafka_bootstrap_servers, TOPICS)
    story = f"{run}-{{}}".format
    [resolved] = _of(events, story("enterprise"), "enterprise.alert_resolved")
    assert resolved.data["stock_kg"] == 20_000
    declined = _of(events, story("enterprise"), "enterprise.transfer_declined")
    assert len(declined) == 1, "the nearest recipient declined once"
    delivered = _of(events, story("enterprise"), "enterprise.transfer_completed")
    assert sum(e.data["quantity_kg"] for e in delivered) == 10_000
    told = _of(events, story("enterprise"), "notifier.notification_sent")
    assert {e.data["recipient"]["kind"] for e in told} >= {"officer", "desk", "enterprise"}

    [lei] = _of(events, story("mediation"), "mediation.case_resolved")
    assert lei.data["how"] == "agreement_fulfilled"
    [zheng] = _of(events, story("fraud"), "outreach.fraud_dissuaded")
    assert zheng.data["amount_yuan"] == 21_000
    [launched] = _of(events, story("fraud"), "outreach.campaign_launched")
    visited = _of(events, story("fraud"), "outreach.visit_completed")
    assert len(visited) == launched.data["visits_planned"] == 3
    [wus] = _of(events, story("wus"), "mediation.case_resolved")
    assert wus.data["how"] == "resolved_on_site"
    assert _of(events, story("idcard"), "outreach.home_service_completed")
    # every fact of a story hangs under its root command: the chain printed is whole
    for key in ("enterprise", "mediation", "fraud", "wus", "idcard"):
        mine = [e for e in events if e.correlationid == story(key)]
        ids = {e.id for e in mine}
        roots = [e for e in mine if e.causationid not in ids]
        assert all(e.topic.endswith(".intake") for e in roots), (key, [e.type for e in roots])
