"""The contract's topics and their retention, and `python -m infra.topics`: create them
(6 partitions, plus DLQs) and give every one, new or old, its retention.

The one-shot job compose runs before any service starts; it waits for the broker
(up to a minute) so it can start as soon as the broker's container does.

Retention (`retention.ms`), in days, per kind of topic: `STATION_EVENTS_RETENTION_DAYS`
(facts, default 30), `STATION_PRIVATE_RETENTION_DAYS` (personal fields of facts, 30),
`STATION_INTAKE_RETENTION_DAYS` (commands, 7), `STATION_DLQ_RETENTION_DAYS` (dead
letters, byte-for-byte copies that may hold personal data, 14). Records older than that
are deleted by the broker, so residents' data on Kafka expires.
"""

import asyncio
import os
import sys
import time
from collections.abc import Mapping
from typing import Final

from infra.kafka import ensure_topics, set_topic_configs
from shared._kit.kafka_client import KafkaIdentity
from shared._kit.topics import DLQ_SUFFIX, dlq_topic

INTAKE_TOPICS: Final = (
    "enterprise.intake",
    "outreach.intake",
    "mediation.intake",
    "notifier.intake",
)
EVENTS_TOPICS: Final = (
    "enterprise.events",
    "outreach.events",
    "mediation.events",
    "notifier.events",
)
# personal fields of a service's facts, for the consumers allowed to read them (contract.md)
PRIVATE_TOPICS: Final = ("enterprise.private", "outreach.private", "mediation.private")
WAIT_S = 60.0
DAY_MS: Final = 24 * 3600 * 1000
# kind of topic (by suffix) -> (its variable, default days)
RETENTION: Final[Mapping[str, tuple[str, float]]] = {
    ".events": ("STATION_EVENTS_RETENTION_DAYS", 30),
    ".private": ("STATION_PRIVATE_RETENTION_DAYS", 30),
    ".intake": ("STATION_INTAKE_RETENTION_DAYS", 7),
    DLQ_SUFFIX: ("STATION_DLQ_RETENTION_DAYS", 14),
}


def contract_topics() -> tuple[str, ...]:
    """Every topic the contract names, each followed by its dead-letter topic."""
    return tuple(
        name
        for topic in (*INTAKE_TOPICS, *EVENTS_TOPICS, *PRIVATE_TOPICS)
        for name in (topic, dlq_topic(topic))
    )


def retention_days(suffix: str, env: Mapping[str, str] | None = None) -> float:
    """The retention of one kind of topic, from its variable or the default."""
    variable, default = RETENTION[suffix]
    raw = (os.environ if env is None else env).get(variable, "").strip()
    if not raw:
        return default
    try:
        days = float(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r}: want a number of days") from None
    if not 0 < days <= 3650:
        raise ValueError(f"{variable}={raw!r}: want more than 0 and at most 3650 days")
    return days


def topic_configs(topic: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The configuration a contract topic is created with: its retention."""
    for suffix in RETENTION:
        if topic.endswith(suffix):
            return {"retention.ms": str(round(retention_days(suffix, env) * DAY_MS))}
    return {}


def contract_topic_configs(env: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """Every contract topic's configuration (read from the environment once)."""
    return {topic: topic_configs(topic, env) for topic in contract_topics()}


async def ensure_contract_topics(
    bootstrap_servers: str, *, identity: KafkaIdentity | None = None
) -> list[str]:
    """Create what is missing with its retention, then set the retention of every contract
    topic (older ones were created without, or with other days); return what it created."""
    configs = contract_topic_configs()
    created = await ensure_topics(bootstrap_servers, configs, configs=configs, identity=identity)
    await set_topic_configs(bootstrap_servers, configs, identity=identity)
    return created


async def create(bootstrap_servers: str) -> list[str]:
    """Retry until the broker answers, then create what is missing; return what it created."""
    contract_topic_configs()  # a bad retention variable fails now, not after a minute
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return await ensure_contract_topics(bootstrap_servers)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


def main() -> int:
    bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap_servers:
        print("create_topics: KAFKA_BOOTSTRAP_SERVERS is not set", file=sys.stderr)
        return 2
    try:
        created = asyncio.run(create(bootstrap_servers))
    except Exception as exc:  # noqa: BLE001 - one line for the operator, whatever failed
        print(f"create_topics: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"create_topics: created {len(created)}, all {len(contract_topics())} present "
        "with their retention"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
