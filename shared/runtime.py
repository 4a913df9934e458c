"""Run one service: check Kafka and MongoDB, serve HTTP and the broker, stop on SIGTERM.

A service's `app.py` describes itself with a `ServiceSpec`; `run_service` does the rest
the same way for all four. Clients are made here, at start-up, never at import time.
"""

import asyncio
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import make_asgi_app
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.aggregates import AggregateStore
from shared.clock import Clock, SystemClock
from shared.consuming import Consumer, Rejected, RetryPolicy, Router
from shared.envelope import CloudEvent
from shared.health import health_routes, stats_route
from shared.logging import configure_logging
from shared.metrics import PlatformMetrics
from shared.publishing import OutboxRelay, Publisher
from shared.settings import ServiceSettings, SettingsError
from shared.startup import StartupError, check_kafka, connect_mongo
from shared.timers import Timers

Document = dict[str, Any]
log = structlog.get_logger("station.runtime")


@dataclass
class Runtime:
    """The clients and plumbing one running service owns."""

    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    producer: AIOKafkaProducer
    metrics: PlatformMetrics
    clock: Clock
    timers: Timers

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.mongo[self.settings.mongodb_database]

    def store(self, collection: str) -> AggregateStore:
        """An aggregate collection with inbox and outbox (see shared.aggregates)."""
        return AggregateStore(self.db[collection], clock=self.clock)


StatsProvider = Callable[[], Awaitable[dict[str, Any]]]


async def _no_stats() -> dict[str, Any]:
    return {}


@dataclass
class Wiring:
    """What a service plugs into the platform: routers per topic, stores, domain counters."""

    routers: dict[str, Router] = field(default_factory=dict)
    timer_router: Router | None = None
    stores: list[AggregateStore] = field(default_factory=list)
    stats: StatsProvider = _no_stats


@dataclass(frozen=True)
class ServiceSpec:
    """What differs between services: name, settings, topics, and how to wire the handlers."""

    name: str
    settings_type: type[ServiceSettings]
    topics: Sequence[str]
    wire: Callable[[Runtime], Wiring] = field(default=lambda _runtime: Wiring())

    @property
    def intake(self) -> str:
        return f"{self.name}.intake"

    @property
    def events(self) -> str:
        return f"{self.name}.events"


def _subscribe(
    runtime: Runtime, spec: ServiceSpec, topic: str, router: Router, publisher: Publisher
) -> None:
    settings = runtime.settings
    consumer = Consumer(
        service=spec.name,
        topic=topic,
        own_intake=topic == spec.intake,
        router=router,
        publisher=publisher,
        metrics=runtime.metrics,
        clock=runtime.clock,
        retry=RetryPolicy(max_attempts=settings.handler_max_attempts),
    )

    # FastStream commits after this returns (NACK_ON_ERROR: ack after success, seek back
    # if cancelled mid-way), and Consumer.handle returns only once effects are durable.
    @runtime.broker.subscriber(
        topic,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        title=f"{spec.name}:{topic}",
    )
    async def on_record(message: KafkaMessage) -> None:
        await consumer.handle(message.raw_message)


def build_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    mongo: AsyncMongoClient[Document],
    *,
    clock: Clock | None = None,
) -> AsgiFastStream:
    """The service as an ASGI app: subscribers, outbox relay, probes, metrics, stats."""
    metrics = PlatformMetrics()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=spec.name,
        logger=logging.getLogger(f"station.{spec.name}.faststream"),
        # its per-message "Received"/"Processed" lines repeat our event_received line
        log_level=logging.DEBUG,
        middlewares=[KafkaPrometheusMiddleware(registry=metrics.registry, app_name=spec.name)],
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{spec.name}-producer",
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
    )
    clock = clock or SystemClock()
    timers = Timers(
        mongo[settings.mongodb_database]["timers"],
        service=spec.name,
        clock=clock,
        owner=f"{spec.name}-{uuid.uuid4().hex[:8]}",
        lease_s=settings.timer_lease_s,
        max_attempts=settings.handler_max_attempts,
    )
    runtime = Runtime(
        settings=settings,
        broker=broker,
        mongo=mongo,
        producer=producer,
        metrics=metrics,
        clock=clock,
        timers=timers,
    )
    wiring = spec.wire(runtime)
    publisher = Publisher(producer, service=spec.name, metrics=metrics)
    for topic, router in wiring.routers.items():
        _subscribe(runtime, spec, topic, router, publisher)
    relay = OutboxRelay(
        publisher,
        wiring.stores,
        topic=spec.events,
        clock=runtime.clock,
        interval_s=settings.outbox_relay_interval_s,
        grace_s=settings.outbox_relay_grace_s,
    )
    background: list[asyncio.Task[None]] = []

    async def start_plumbing() -> None:
        await producer.start()
        await timers.create_indexes()
        for store in wiring.stores:
            await store.create_indexes()

    async def start_loops() -> None:
        background.append(asyncio.create_task(relay.run()))
        if wiring.timer_router is not None:
            deliver = timer_delivery(wiring.timer_router, publisher, spec.events)
            background.append(asyncio.create_task(timers.run(deliver, settings.timer_interval_s)))
        log.info(
            "service_ready",
            http=f"http://{settings.http_host}:{settings.http_port}",
            database=settings.mongodb_database,
            topics=list(spec.topics),
            subscribed=list(wiring.routers),
        )

    async def stop_loops() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    async def stop_plumbing() -> None:
        await producer.stop()

    return AsgiFastStream(
        broker,
        asgi_routes=[
            *health_routes(runtime),
            ("/metrics", make_asgi_app(metrics.registry)),
            ("/stats", stats_route(spec.name, wiring.stats)),
        ],
        asyncapi_path="/docs/asyncapi",
        logger=logging.getLogger(f"station.{spec.name}.app"),
        on_startup=[start_plumbing],
        after_startup=[start_loops],
        on_shutdown=[stop_loops],
        after_shutdown=[stop_plumbing],
    )


def timer_delivery(
    router: Router, publisher: Publisher, events_topic: str
) -> Callable[[CloudEvent], Awaitable[None]]:
    """Hand a fired timer's event to its handler and publish what it emitted."""

    async def deliver(event: CloudEvent) -> None:
        route = router.routes[event.type]
        try:
            applied = await route.handler(route.model.model_validate(event.data or {}), event)
        except Rejected as refusal:
            log.info(
                "timer_moot", reason=refusal.reason, event_type=event.type, subject=event.subject
            )
            return
        await publisher.publish_applied(events_topic, applied)

    return deliver


def _exit_quietly(signum: int, _frame: object) -> None:
    # uvicorn re-raises the signal after its graceful shutdown; by then there is nothing
    # left to do, and the default SIGINT handler would print a KeyboardInterrupt traceback.
    log.info("signal_handled", signal=signal.Signals(signum).name)


async def serve(spec: ServiceSpec, settings: ServiceSettings) -> int:
    """Check dependencies, then run broker and HTTP until a signal; return the exit code."""
    try:
        async with asyncio.TaskGroup() as checks:
            checks.create_task(check_kafka(settings, spec.topics))
            mongo_task = checks.create_task(connect_mongo(settings))
    except* StartupError as group:
        if mongo_task.done() and not mongo_task.cancelled() and not mongo_task.exception():
            await mongo_task.result().close()
        raise group.exceptions[0] from None
    mongo = mongo_task.result()
    app = build_app(spec, settings, mongo)
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


def run_service(spec: ServiceSpec) -> None:
    """Entry point of `python -m services.<name>`: exits 0 after a clean stop, 1 or 2 on failure."""
    try:
        settings = spec.settings_type.load()
    except SettingsError as exc:
        configure_logging(service=spec.name)
        log.error("startup_failed", reason=f"bad settings: {exc}")
        sys.exit(2)
    configure_logging(service=spec.name, level=settings.log_level, fmt=settings.log_format)
    try:
        code = asyncio.run(serve(spec, settings))
    except StartupError as exc:
        log.error("startup_failed", reason=str(exc))
        code = 1
    sys.exit(code)
