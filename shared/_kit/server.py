"""Run one service: check Kafka and MongoDB, serve HTTP and the broker, stop on SIGTERM.

A service is a `Service(name, settings, wire, contract)`; `Service.run()` does the rest
the same way for all four. Clients are made here, at start-up, never at import time.
"""

import asyncio
import faulthandler
import gc
import logging
import signal
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Any, Generic, TypeVar

import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import make_asgi_app
from pymongo import AsyncMongoClient

from shared._kit.clock import Clock, SystemClock
from shared._kit.consuming import Consumer, RetryPolicy
from shared._kit.contract import asyncapi, describe
from shared._kit.contract_text import html_page
from shared._kit.deadletters import DeadLetters
from shared._kit.failures import Failures, Server
from shared._kit.health import (
    Figures,
    document_route,
    health_routes,
    json_body,
    stats_route,
    without_body,
)
from shared._kit.intake import subscribe
from shared._kit.logging import configure_logging
from shared._kit.loops import HOUSEKEEPING_S, MARK_SENT_S, at_most, every
from shared._kit.memory import MemoryDatabase
from shared._kit.metrics import PlatformMetrics
from shared._kit.pipeline import Pipeline
from shared._kit.publishing import OutboxRelay, Publisher
from shared._kit.runtime import Runtime
from shared._kit.settings import ServiceSettings, SettingsError
from shared._kit.startup import StartupError, check_kafka, connect_mongo

Document = dict[str, Any]
S = TypeVar("S", bound=ServiceSettings)
log = structlog.get_logger("station.runtime")
ASYNCAPI_PATH = "/docs/asyncapi"
# The garbage collector's first threshold (Python: 700). At 700 a campaign's few hundred
# thousand short-lived models set off full collections over the cached documents every
# 0.7 s (0.9 s of a 4.5 s campaign); at 50,000, 16 collections in the whole benchmark.
GC_FIRST_THRESHOLD = 50_000


@dataclass(frozen=True)
class Service(Generic[S]):
    """A service: its name, its settings, how its handlers are wired, its contract module."""

    name: str
    settings: type[S]
    wire: Callable[[Runtime[S]], None]
    contract: ModuleType | None = None

    def run(self) -> None:
        """`python -m services.<name>`: exits 0 after a clean stop, 1 or 2 on a failure."""
        run_service(self)


def build_app(
    service: Service[S],
    settings: S,
    mongo: AsyncMongoClient[Document],
    *,
    server: Server = "mongodb",
    clock: Clock | None = None,
) -> AsgiFastStream:
    """The service as an ASGI app: subscribers, outbox relay, timers, probes, metrics, docs."""
    metrics = PlatformMetrics()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=settings.kafka_identity.security(),
        client_id=service.name,
        logger=logging.getLogger(f"station.{service.name}.faststream"),
        # its per-message "Received"/"Processed" lines repeat our event_received line
        log_level=logging.DEBUG,
        # handlers get the raw records, not injected arguments (see intake.raw_records)
        apply_types=False,
        middlewares=[KafkaPrometheusMiddleware(registry=metrics.registry, app_name=service.name)],
    )
    producer = AIOKafkaProducer(
        **settings.kafka_options(),
        client_id=f"{service.name}-producer",
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
    )
    runtime = Runtime(
        service=service.name,
        settings=settings,
        db=mongo[settings.mongodb_database],
        clock=clock or SystemClock(),
        timer_owner=f"{service.name}-{uuid.uuid4().hex[:8]}",
    )
    service.wire(runtime)
    figures = Figures(
        service.name,
        runtime.stats,
        clock=runtime.clock,
        interval_s=settings.stats_interval_s,
        max_age_s=settings.stats_max_age_s,
        timeout_s=settings.mongodb_timeout_s,
    )
    publisher = Publisher(producer, service=service.name, metrics=metrics, private=runtime.private)
    pipeline = Pipeline(
        service=service.name,
        source=runtime.source,
        events_topic=runtime.events,
        outlet=publisher,
        metrics=metrics,
        clock=runtime.clock,
        timers=runtime.timers,
        processed=runtime.processed,
        written=figures.changed,
    )
    failures = Failures(server)
    retry = RetryPolicy(failures.transient, max_attempts=settings.handler_max_attempts)
    dead_letters = DeadLetters(
        producer,
        runtime.db["undeliverable"],
        service=service.name,
        metrics=metrics,
        clock=runtime.clock,
        transient=failures.transient,
    )
    consumers = [
        Consumer(pipeline, topic, routes, topic == runtime.intake, dead_letters, metrics, retry)
        for topic, routes in runtime.routes.items()
    ]
    for consumer in consumers:
        subscribe(broker, consumer.topic, consumer, settings)
    relay = OutboxRelay(
        publisher,
        runtime.stores,
        topic=runtime.events,
        clock=runtime.clock,
        transient=failures.transient,
        interval_s=settings.outbox_relay_interval_s,
        grace_s=settings.outbox_relay_grace_s,
    )
    background: list[asyncio.Task[None]] = []

    async def start_plumbing() -> None:
        await producer.start()
        await runtime.timers.create_indexes()
        await runtime.processed.create_indexes()
        for store in runtime.stores:
            await store.create_indexes()

    async def mark_sent(older_than_s: float = 0.0) -> None:
        for store in runtime.stores:
            await store.mark_sent(older_than_s=older_than_s)

    async def start_loops() -> None:
        background.append(asyncio.create_task(relay.run()))
        background.append(asyncio.create_task(figures.run()))
        # each second, what has waited half a second (the rest leaves with its next write)
        settled = partial(mark_sent, MARK_SENT_S / 2)
        background.append(asyncio.create_task(every(MARK_SENT_S, settled, "outbox_marking")))
        background.append(
            asyncio.create_task(every(HOUSEKEEPING_S, runtime.processed.sweep, "dedupe_sweep"))
        )
        if runtime.expiry.rules:
            # hourly like the dedupe sweep: a retention counted in days needs no timer per
            # record, and a pass over the finished records survives any restart
            expire = every(HOUSEKEEPING_S, runtime.expiry.sweep, "personal_data_sweep")
            background.append(asyncio.create_task(expire))
        if runtime.timer_routes:
            deliver = pipeline.timer_delivery(runtime.timer_routes)
            timers = runtime.timers.run(
                deliver,
                settings.timer_interval_s,
                transient=failures.transient,
                on_failed=pipeline.timer_failed,
            )
            background.append(asyncio.create_task(timers))
        gc.freeze()
        gc.set_threshold(GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])
        log.info(
            "service_ready",
            http=f"http://{settings.http_host}:{settings.http_port}",
            database=settings.mongodb_database,
            topics=runtime.topics,
            subscribed=list(runtime.routes),
        )

    async def stop_loops() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    async def stop_plumbing() -> None:
        # the consumers are stopped: the dedupe records left to write (their keys are in
        # the inboxes meanwhile), then what they published leaves the outboxes (else the
        # relay publishes it again), each within a bound: a database that does not answer
        # must not hold the shutdown
        await at_most(runtime.processed.written_later(), "dedupe_records_unwritten")
        await at_most(mark_sent(), "outbox_marking_failed")
        await producer.stop()

    return AsgiFastStream(
        broker,
        # no route takes a body, and none reads more than a bounded amount per request
        asgi_routes=[
            (path, without_body(route))
            for path, route in [
                *health_routes(broker, runtime.db, consumers, settings.stuck_after_s),
                ("/metrics", make_asgi_app(metrics.registry)),
                ("/stats", stats_route(figures)),
                *contract_routes(service, runtime),
            ]
        ],
        logger=logging.getLogger(f"station.{service.name}.app"),
        on_startup=[start_plumbing],
        after_startup=[start_loops],
        on_shutdown=[stop_loops],
        after_shutdown=[stop_plumbing],
    )


def contract_routes(service: Service[Any], runtime: Runtime[Any]) -> list[tuple[str, Any]]:
    """`/docs/asyncapi` (the generated document, as committed under docs/) and `/docs`."""
    contract = describe(runtime, service.contract)
    return [
        (ASYNCAPI_PATH, document_route(json_body(asyncapi(contract)), "application/json")),
        ("/docs", document_route(html_page(contract, ASYNCAPI_PATH), "text/html; charset=utf-8")),
    ]


def _exit_quietly(signum: int, _frame: object) -> None:
    # uvicorn re-raises the signal after its graceful shutdown; by then there is nothing
    # left to do, and the default SIGINT handler would print a KeyboardInterrupt traceback.
    log.info("signal_handled", signal=signal.Signals(signum).name)


async def serve(service: Service[S], settings: S) -> int:
    """Check dependencies, then run broker and HTTP until a signal; return the exit code."""
    topics = _topics_to_check(service, settings)
    try:
        async with asyncio.TaskGroup() as checks:
            checks.create_task(check_kafka(settings, topics))
            mongo_task = checks.create_task(connect_mongo(settings))
    except* StartupError as group:
        if mongo_task.done() and not mongo_task.cancelled() and not mongo_task.exception():
            await mongo_task.result()[0].close()
        raise group.exceptions[0] from None
    mongo, server_kind = mongo_task.result()
    app = build_app(service, settings, mongo, server=server_kind)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_quietly)
    try:
        await server.serve()
    finally:
        await mongo.close()
    if not server.started:
        return 1
    log.info("service_stopped")
    return 0


def _topics_to_check(service: Service[S], settings: S) -> list[str]:
    """The topics the service will use: its wiring, run once on an in-memory database."""
    runtime = Runtime(
        service=service.name,
        settings=settings,
        db=MemoryDatabase(service.name),  # type: ignore[arg-type]
        clock=SystemClock(),
        timer_owner="start-up",
    )
    service.wire(runtime)
    return runtime.topics


def run_service(service: Service[S]) -> None:
    try:
        settings = service.settings.load()
    except SettingsError as exc:
        configure_logging(service=service.name)
        log.error("startup_failed", reason=f"bad settings: {exc}")
        sys.exit(2)
    configure_logging(service=service.name, level=settings.log_level, fmt=settings.log_format)
    # `kill -USR1 <pid>` prints every thread's stack to stderr, from C, even while the
    # event loop is blocked: the one look inside a process that hangs
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        code = asyncio.run(serve(service, settings))
    except StartupError as exc:
        log.error("startup_failed", reason=str(exc))
        code = 1
    sys.exit(code)
