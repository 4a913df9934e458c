"""The platform's Prometheus counters, one registry per service."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class PlatformMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["service", "type"]
        self.received = Counter(
            "station_events_received", "Events handled", labels, registry=self.registry
        )
        self.emitted = Counter(
            "station_events_emitted", "Events published", labels, registry=self.registry
        )
        self.rejected = Counter(
            "station_commands_rejected", "command_rejected emitted", labels, registry=self.registry
        )
        self.dead_lettered = Counter(
            "station_dead_lettered",
            "Messages sent to a DLQ",
            ["service", "topic", "reason"],
            registry=self.registry,
        )
        self.retries = Counter(
            "station_retries",
            "Handler attempts retried",
            ["service", "kind"],
            registry=self.registry,
        )
        self.relay_failures = Counter(
            "station_outbox_relay_failures",
            "Aggregates whose unsent events the relay could not publish (left out)",
            ["service"],
            registry=self.registry,
        )
        self.busy_seconds = Gauge(
            "station_consumer_busy_seconds",
            "How long each consumer has been busy with its current record (0 when idle)",
            ["service", "topic"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "station_outbox_backlog",
            "Aggregates with unpublished events",
            ["service"],
            registry=self.registry,
        )
