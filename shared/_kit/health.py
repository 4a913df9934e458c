"""`/healthz` (the process is up), `/readyz` (Kafka, MongoDB and consumers all answer),
`/stats` (the domain counters) and the contract documents, as ASGI routes."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from faststream.asgi import AsgiResponse, get
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import ASGIApp, Scope
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

PROBE_TIMEOUT_S = 2.0


async def _mongo_answers(db: AsyncDatabase[dict[str, Any]]) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await db.command("ping")
    except (PyMongoError, TimeoutError):
        return False
    return True


class Busy(Protocol):
    def stuck(self, after_s: float) -> dict[str, object] | None: ...


def health_routes(
    broker: KafkaBroker,
    db: AsyncDatabase[dict[str, Any]],
    consumers: Sequence[Busy],
    stuck_after_s: float,
) -> list[tuple[str, ASGIApp]]:
    """The two probes every service serves, for compose healthchecks and the stack runner.

    A consumer busy with one record for longer than `stuck_after_s` makes the service not
    ready, and the answer names the record.
    """

    @get(include_in_schema=False)
    async def healthz(scope: Scope) -> AsgiResponse:
        return JSONResponse({"status": "ok"})

    @get(include_in_schema=False)
    async def readyz(scope: Scope) -> AsgiResponse:
        kafka, mongodb = await asyncio.gather(broker.ping(PROBE_TIMEOUT_S), _mongo_answers(db))
        stuck = [found for c in consumers if (found := c.stuck(stuck_after_s)) is not None]
        running = all(sub.running for sub in broker.subscribers) and not stuck
        checks = {"kafka": kafka, "mongodb": mongodb, "consumers": running}
        ready = all(checks.values())
        body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
        if stuck:
            body["stuck"] = stuck
        return JSONResponse(body, status_code=200 if ready else 503)

    return [("/healthz", healthz), ("/readyz", readyz)]


def stats_route(service: str, stats: Callable[[], Awaitable[dict[str, Any]]]) -> ASGIApp:
    """`/stats`: the domain counters the station reports."""

    @get(include_in_schema=False)
    async def stats_handler(scope: Scope) -> AsgiResponse:
        return JSONResponse({"service": service, **(await stats())})

    return stats_handler


def document_route(body: str, content_type: str) -> ASGIApp:
    """A fixed document (the service's AsyncAPI, its HTML page): nothing fetched from outside."""
    encoded = body.encode()

    @get(include_in_schema=False)
    async def document(scope: Scope) -> AsgiResponse:
        return AsgiResponse(encoded, status_code=200, headers={"content-type": content_type})

    return document


def json_body(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
