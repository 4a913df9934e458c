"""`/healthz` (the process is up), `/readyz` (Kafka, MongoDB and consumers all answer),
`/stats` (the domain figures, from memory) and the contract documents, as ASGI routes.

No route reads more than a bounded amount per request, and none takes a request body.
`/stats` never reads the database: one background task per process recomputes the figures
(`Figures.run`) at most every `stats_interval_s` after the service wrote something, and at
least every `stats_max_age_s` (another replica's work, or a write this process did not
make); a request answers the last figures and their `as_of`, however many requests come
and whether or not the database answers.
"""

import asyncio
import json
import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, Protocol

import structlog
from faststream.asgi import AsgiResponse, get
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared._kit.clock import Clock
from shared._kit.runtime import StatsProvider

log = structlog.get_logger("station.runtime")

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


class Figures:
    """The figures `/stats` serves: computed by `compute` (the service's own query, the
    same figures as ever) in one background task, kept in memory with the time they were
    computed from (`as_of`).

    Chosen over counters updated with each unit of work: without transactions, a counter
    kept beside the aggregates is either a second write that a crash can lose or repeat,
    or a field in the domain's state (issue 23 wants none there); and figures such as a
    mediator's load are states, not sums. Recomputed, the figures are right after a crash
    (they come from what is stored), each replica serves its own, and a request costs no
    read. The price is freshness: at most `interval_s` behind this process's own writes
    (plus the computation), `max_age_s` behind anyone else's.
    """

    def __init__(
        self,
        service: str,
        compute: StatsProvider,
        *,
        clock: Clock,
        interval_s: float,
        max_age_s: float,
        timeout_s: float,
    ) -> None:
        self.service = service
        self.compute = compute
        self.clock = clock
        self.interval_s = interval_s
        self.max_age_s = max(max_age_s, interval_s)
        self.timeout_s = timeout_s
        self.as_of: datetime | None = None
        self.computations = 0
        # encoded once per computation: a request only sends these bytes
        self.body: bytes | None = None
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """Something was written: recompute at the next turn (at most every interval)."""
        self._changed.set()

    async def refresh(self) -> bool:
        """Compute the figures once; on failure keep the last ones (logged, True if new)."""
        as_of = self.clock.now()
        started = time.perf_counter()
        self._changed.clear()
        try:
            async with asyncio.timeout(self.timeout_s):
                figures = await self.compute()
            body = {"service": self.service, "as_of": as_of.isoformat(), **figures}
            encoded = json.dumps(body, ensure_ascii=False).encode()
        except Exception as exc:  # noqa: BLE001 - the last figures stay served; next turn retries
            self._changed.set()
            log.warning("stats_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        self.computations += 1
        self.as_of, self.body = as_of, encoded
        # what the figures cost the database, to choose STATS_INTERVAL_S by
        log.debug("stats_computed", duration_ms=round((time.perf_counter() - started) * 1000, 1))
        return True

    async def run(self) -> None:
        """Recompute now, then after each write at most every `interval_s`, and at least
        every `max_age_s`."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval_s)
            with suppress(TimeoutError):
                async with asyncio.timeout(self.max_age_s - self.interval_s):
                    await self._changed.wait()


def stats_route(figures: Figures) -> ASGIApp:
    """`/stats`: the station's figures as last computed, with their `as_of`; 503 until the
    first computation ends."""

    @get(include_in_schema=False)
    async def stats_handler(scope: Scope) -> AsgiResponse:
        if figures.body is None:
            return JSONResponse(
                {"service": figures.service, "status": "figures_not_computed_yet"},
                status_code=503,
                headers={"retry-after": "1"},
            )
        return AsgiResponse(
            figures.body, status_code=200, headers={"content-type": "application/json"}
        )

    return stats_handler


def without_body(app: ASGIApp) -> ASGIApp:
    """A route that expects no request body refuses one (413) before the route runs: a
    client cannot make the service buffer what it would never read."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"0").strip() or b"0"
        if scope["type"] == "http" and (length != b"0" or b"transfer-encoding" in headers):
            refusal = JSONResponse(
                {"error": "this route takes no request body"},
                status_code=413,
                headers={"connection": "close"},
            )
            await refusal(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def document_route(body: str, content_type: str) -> ASGIApp:
    """A fixed document (the service's AsyncAPI, its HTML page): nothing fetched from outside."""
    encoded = body.encode()

    @get(include_in_schema=False)
    async def document(scope: Scope) -> AsgiResponse:
        return AsgiResponse(encoded, status_code=200, headers={"content-type": content_type})

    return document


def json_body(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
