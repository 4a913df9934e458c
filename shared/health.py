"""`/healthz` (the process is up) and `/readyz` (Kafka, MongoDB and consumers all answer)."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import ASGIApp, Scope
from pymongo.errors import PyMongoError

if TYPE_CHECKING:
    from shared.runtime import Runtime

PROBE_TIMEOUT_S = 2.0


async def _mongo_answers(runtime: "Runtime") -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await runtime.db.command("ping")
    except (PyMongoError, TimeoutError):
        return False
    return True


def health_routes(runtime: "Runtime") -> list[tuple[str, ASGIApp]]:
    """The two probes every service serves, for compose healthchecks and the stack runner."""

    @get(include_in_schema=False)
    async def healthz(scope: Scope) -> AsgiResponse:
        return JSONResponse({"status": "ok"})

    @get(include_in_schema=False)
    async def readyz(scope: Scope) -> AsgiResponse:
        kafka, mongodb = await asyncio.gather(
            runtime.broker.ping(PROBE_TIMEOUT_S), _mongo_answers(runtime)
        )
        consumers = all(sub.running for sub in runtime.broker.subscribers)
        checks = {"kafka": kafka, "mongodb": mongodb, "consumers": consumers}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return [("/healthz", healthz), ("/readyz", readyz)]


def stats_route(service: str, stats: "Callable[[], Awaitable[dict[str, Any]]]") -> ASGIApp:
    """`/stats`: the domain counters the station reports."""

    @get(include_in_schema=False)
    async def stats_handler(scope: Scope) -> AsgiResponse:
        return JSONResponse({"service": service, **(await stats())})

    return stats_handler
