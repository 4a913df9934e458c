"""Each service, run as a real process: ready against real Kafka and MongoDB, stops on SIGTERM,
and refuses bad connection settings with one clear line."""

import json
import re
import signal
import time
from collections.abc import Callable

import httpx
import pytest

from infra.topics import contract_topics
from tests.processes import ServiceProcess
from tests.support import Infra, eventually, start_group_at_end

pytestmark = pytest.mark.integration

SERVICES = ["mediation", "enterprise", "outreach", "notifier"]


@pytest.mark.parametrize("name", SERVICES)
async def test_service_becomes_ready_and_stops_cleanly_on_sigterm(
    infra: Infra, name: str, unique_id: Callable[[str], str]
) -> None:
    database = unique_id(name).replace("-", "_")
    # a group of its own, starting at the end: it must neither replay earlier tests'
    # commands nor take partitions from a running stack's `<name>` group
    group = unique_id(f"{name}-lifecycle")
    topics = [t for t in contract_topics() if t.endswith((".intake", ".events", ".private"))]
    await start_group_at_end(infra.kafka_bootstrap_servers, group, topics)
    service = ServiceProcess(
        name,
        {
            **infra.env(),
            f"{name.upper()}_MONGODB_DATABASE": database,
            f"{name.upper()}_CONSUMER_GROUP": group,
        },
    )
    await service.start()
    try:
        await service.wait_ready()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
            health = await http.get("/healthz")
            ready = await http.get("/readyz")
            asyncapi = await http.get("/docs/asyncapi")
            page = await http.get("/docs")
        code = await service.stop(signal.SIGTERM)
    finally:
        await service.kill()

    assert health.json() == {"status": "ok"}
    assert ready.json() == {
        "status": "ready",
        "checks": {"kafka": True, "mongodb": True, "consumers": True},
    }
    assert asyncapi.json()["asyncapi"] == "3.0.0"
    assert asyncapi.json()["info"]["title"] == f"{name} service"
    # served offline: the page loads nothing from outside
    assert page.status_code == 200
    assert "<script" not in page.text
    assert all(link.startswith("/") for link in re.findall(r'(?:src|href)="([^"]*)"', page.text))
    assert code == 0
    events = service.events()  # every line is JSON: operators' tools parse them
    ready_line = next(e for e in events if e["event"] == "service_ready")
    assert ready_line["service"] == name
    assert ready_line["database"] == database
    assert events[-1]["event"] == "service_stopped"
    # aiokafka may log a benign start-up race ("Broker id None not in current metadata")
    # at error level; the service's own lines must carry no error
    errors = [e for e in events if e["level"] == "error" and str(e["logger"]).startswith("station")]
    assert errors == []


async def test_sigusr1_prints_the_stacks_and_the_service_goes_on(
    infra: Infra, unique_id: Callable[[str], str]
) -> None:
    """The look inside a process that hangs (tests ask for it when a stop times out)."""
    group = unique_id("enterprise-stacks")
    # at the end of every topic it reads: earlier tests' facts would keep it busy
    topics = ["enterprise.intake", "enterprise.events", "enterprise.private"]
    await start_group_at_end(infra.kafka_bootstrap_servers, group, topics)
    service = ServiceProcess(
        "enterprise",
        {
            **infra.env(),
            "ENTERPRISE_MONGODB_DATABASE": unique_id("enterprise").replace("-", "_"),
            "ENTERPRISE_CONSUMER_GROUP": group,
        },
    )
    await service.start()
    try:
        await service.wait_ready()
        before = len(service.lines)
        assert service.proc is not None
        service.proc.send_signal(signal.SIGUSR1)

        async def printed() -> bool:
            return any(line.startswith("Current thread") for line in service.lines[before:])

        await eventually(printed, timeout_s=10, what="the stacks after SIGUSR1")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
            health = await http.get("/healthz")
        code = await service.stop(signal.SIGTERM)
    finally:
        await service.kill()
    stacks = service.lines[before:]
    # the main thread's stack, innermost last, runs through the event loop
    assert any('File "' in line and "asyncio" in line for line in stacks)
    assert health.json() == {"status": "ok"}
    assert code == 0


BAD_SETTINGS = {
    "kafka_refused": ({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "KAFKA_BOOTSTRAP_SERVERS"),
    "kafka_unresolvable": (
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka.invalid:9092"},
        "KAFKA_BOOTSTRAP_SERVERS",
    ),
    "kafka_malformed": ({"KAFKA_BOOTSTRAP_SERVERS": "not a broker"}, "KAFKA_BOOTSTRAP_SERVERS"),
    "mongo_refused": ({"MONGODB_URL": "mongodb://127.0.0.1:1/"}, "MONGODB_URL"),
    "mongo_not_a_url": ({"MONGODB_URL": "http://127.0.0.1:1/"}, "MONGODB_URL"),
    "mongo_unparseable": ({"MONGODB_URL": "mongodb://a:b:c@@127.0.0.1/"}, "MONGODB_URL"),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
async def test_bad_connection_settings_exit_within_30s_with_one_line(
    infra: Infra, case: str
) -> None:
    override, names = BAD_SETTINGS[case]
    service = ServiceProcess("enterprise", {**infra.env(), **override})
    started = time.monotonic()
    await service.start()
    try:
        code = await service.wait_exit(timeout_s=30)
    finally:
        await service.kill()
    elapsed = time.monotonic() - started

    assert code != 0
    assert elapsed < 30
    assert len(service.lines) == 1, service.lines
    line = json.loads(service.lines[0])
    assert line["event"] == "startup_failed"
    assert names in line["reason"]
    assert "Traceback" not in line["reason"]


async def test_missing_topics_are_named_at_start_up(infra: Infra) -> None:
    """Auto-creation is off, so a broker without the contract's topics is refused clearly."""
    from services.enterprise.settings import EnterpriseSettings
    from shared._kit.startup import StartupError, check_kafka

    settings = EnterpriseSettings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers, MONGODB_URL=infra.mongodb_url
    )
    with pytest.raises(StartupError, match=r"lacks the topics no\.such\.topic"):
        await check_kafka(settings, ["enterprise.intake", "enterprise.events", "no.such.topic"])
