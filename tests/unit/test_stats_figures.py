"""`/stats` answers from memory: the figures are recomputed by one background task after
writes, at a bounded rate; requests never read the database, and a database that hangs
leaves the last figures served (the enterprise service's real wiring, in memory)."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.asgi.types import ASGIApp

from services.enterprise.app import SERVICE
from services.enterprise.settings import EnterpriseSettings
from shared._kit.clock import SystemClock
from shared._kit.health import Figures, stats_route, without_body
from shared._kit.memory import MemoryDatabase
from shared._kit.server import build_app
from shared.testing import Scenario
from tests.support import eventually
from tests.unit.test_enterprise_rules import demand, register


class Counted:
    """The service's own figures, counting how often they are computed (each time reads
    its collections), and able to hang like a database that stopped answering."""

    def __init__(self, scenario: Scenario[EnterpriseSettings]) -> None:
        self.scenario = scenario
        self.calls = 0
        self.hang = asyncio.Event()

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.hang.is_set():
            await asyncio.Event().wait()
        return await self.scenario.stats()


@pytest.fixture
async def scenario() -> Scenario[EnterpriseSettings]:
    scenario = Scenario(SERVICE, ENTERPRISE_HTTP_PORT=8102)
    await scenario.when(register("ent-a", 0, 20_000))
    await scenario.when(register("ent-b", 10, 20_000))
    await scenario.when(demand("ent-b", 5_000))
    return scenario


def figures_of(compute: Counted, **timing: float) -> Figures:
    options = {"interval_s": 0.05, "max_age_s": 60.0, "timeout_s": 0.2, **timing}
    return Figures("enterprise", compute, clock=SystemClock(), **options)


@pytest.fixture
async def running(scenario: Scenario[EnterpriseSettings]) -> AsyncIterator[tuple[Counted, Figures]]:
    compute = Counted(scenario)
    figures = figures_of(compute)
    scenario.pipeline.written = figures.changed
    task = asyncio.create_task(figures.run())
    await eventually(_computed(figures, 1), timeout_s=5, what="the first figures")
    yield compute, figures
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _computed(figures: Figures, count: int) -> Any:
    async def done() -> bool:
        return figures.computations >= count

    return done


def client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


async def test_a_burst_of_requests_reads_nothing_and_gets_todays_figures(
    scenario: Scenario[EnterpriseSettings],
) -> None:
    compute = Counted(scenario)
    figures = figures_of(compute)
    assert await figures.refresh()

    async with client(stats_route(figures)) as http:
        answers = await asyncio.gather(*(http.get("/stats") for _ in range(300)))

    assert compute.calls == 1, "300 requests, not one more computation"
    bodies = [a.json() for a in answers]
    assert all(a.status_code == 200 for a in answers)
    assert all(b == bodies[0] for b in bodies)
    served = {k: v for k, v in bodies[0].items() if k not in ("service", "as_of")}
    assert served == await scenario.stats(), "the figures the store computes, unchanged"
    assert served["enterprises"] == 2
    assert bodies[0]["service"] == "enterprise"
    assert bodies[0]["as_of"] == figures.as_of.isoformat()  # type: ignore[union-attr]


async def test_before_the_first_figures_stats_says_so_and_reads_nothing(
    scenario: Scenario[EnterpriseSettings],
) -> None:
    compute = Counted(scenario)
    async with client(stats_route(figures_of(compute))) as http:
        answer = await http.get("/stats")

    assert answer.status_code == 503
    assert answer.json() == {"service": "enterprise", "status": "figures_not_computed_yet"}
    assert answer.headers["retry-after"] == "1"
    assert compute.calls == 0


async def test_a_write_makes_the_figures_catch_up_and_no_write_no_read(
    scenario: Scenario[EnterpriseSettings], running: tuple[Counted, Figures]
) -> None:
    compute, figures = running
    async with client(stats_route(figures)) as http:
        assert (await http.get("/stats")).json()["enterprises"] == 2
        await asyncio.sleep(10 * figures.interval_s)  # idle: nothing written, nothing read
        assert compute.calls == 1

        await scenario.when(register("ent-c", 20, 20_000))

        async def caught_up() -> bool:
            return bool((await http.get("/stats")).json()["enterprises"] == 3)

        await eventually(caught_up, timeout_s=5, what="the new enterprise in /stats")
    assert compute.calls == 2, "one write, one computation"


async def test_many_writes_are_counted_at_most_once_per_interval(
    scenario: Scenario[EnterpriseSettings],
) -> None:
    compute = Counted(scenario)
    figures = figures_of(compute, interval_s=0.5)
    scenario.pipeline.written = figures.changed
    task = asyncio.create_task(figures.run())
    try:
        await eventually(_computed(figures, 1), timeout_s=5, what="the first figures")
        for n in range(40):
            await scenario.when(register(f"ent-x{n}", 30, 20_000))
        await eventually(_computed(figures, 2), timeout_s=5, what="the figures again")
        assert compute.calls <= 3, "40 writes within about an interval: one or two readings"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_figures_are_read_again_after_max_age_without_a_write(
    scenario: Scenario[EnterpriseSettings],
) -> None:
    """Another replica's writes do not reach this process: the figures age at most so long."""
    compute = Counted(scenario)
    figures = figures_of(compute, interval_s=0.05, max_age_s=0.2)
    task = asyncio.create_task(figures.run())
    try:
        await eventually(_computed(figures, 3), timeout_s=5, what="figures refreshed by age")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_database_that_hangs_leaves_the_last_figures_served_at_once(
    scenario: Scenario[EnterpriseSettings],
    running: tuple[Counted, Figures],
    capsys: pytest.CaptureFixture[str],
) -> None:
    compute, figures = running
    before, as_of = figures.body, figures.as_of
    compute.hang.set()
    await scenario.when(register("ent-c", 20, 20_000))
    await eventually(_computed_calls(compute, 2), timeout_s=5, what="a computation that hangs")

    async with client(stats_route(figures)) as http:
        async with asyncio.timeout(0.5):
            answers = [await http.get("/stats") for _ in range(20)]
        assert all(a.status_code == 200 and a.content == before for a in answers)
        # the hung computation is given up after timeout_s, logged, and tried again
        await eventually(_computed_calls(compute, 3), timeout_s=5, what="a retry after timeout")
        assert figures.as_of == as_of, "the figures served say how old they are"
        assert "stats_failed" in capsys.readouterr().out

        compute.hang.clear()

        async def recovered() -> bool:
            return bool((await http.get("/stats")).json()["enterprises"] == 3)

        await eventually(recovered, timeout_s=5, what="figures once the database answers")


def _computed_calls(compute: Counted, count: int) -> Any:
    async def done() -> bool:
        return compute.calls >= count

    return done


async def _chunks() -> AsyncIterator[bytes]:
    yield b"x"


async def test_a_route_that_expects_no_body_refuses_one(
    scenario: Scenario[EnterpriseSettings],
) -> None:
    figures = figures_of(Counted(scenario))
    await figures.refresh()
    async with client(without_body(stats_route(figures))) as http:
        plain = await http.get("/stats")
        with_body = await http.request("GET", "/stats", content=b"x" * 1000)
        streamed = await http.request("GET", "/stats", content=_chunks())
        posted = await http.post("/stats", json={"a": 1})

    assert plain.status_code == 200
    assert json.loads(plain.content)["enterprises"] == 2
    assert with_body.status_code == 413
    assert with_body.json() == {"error": "this route takes no request body"}
    assert streamed.status_code == 413
    assert posted.status_code == 413


async def test_every_route_of_a_service_refuses_a_body_and_stats_reads_nothing() -> None:
    """The app a service runs (build_app), on an in-memory database, without starting it:
    every route is guarded, and /stats before the figures task ran answers 503."""
    settings = EnterpriseSettings.model_validate(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
            "MONGODB_URL": "mongodb://memory/",
            "ENTERPRISE_HTTP_PORT": 8102,
        }
    )
    mongo = {settings.mongodb_database: MemoryDatabase(settings.mongodb_database)}
    app = build_app(SERVICE, settings, mongo)  # type: ignore[arg-type]
    paths = ["/healthz", "/metrics", "/stats", "/docs", "/docs/asyncapi"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as http:
        refused = [await http.request("GET", path, content=b"{}") for path in [*paths, "/readyz"]]
        plain = {path: await http.get(path) for path in paths}

    assert [r.status_code for r in refused] == [413] * (len(paths) + 1)
    assert plain["/healthz"].status_code == 200
    assert plain["/docs"].status_code == 200
    assert plain["/stats"].status_code == 503, "nothing computed, nothing read for a request"
