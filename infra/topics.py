"""The contract's topics, and `python -m infra.topics`: create them (6 partitions, plus DLQs).

The one-shot job compose runs before any service starts; it waits for the broker
(up to a minute) so it can start as soon as the broker's container does.
"""

import asyncio
import os
import sys
import time
from typing import Final

from infra.kafka import ensure_topics
from shared._kit.topics import dlq_topic

INTAKE_TOPICS: Final = ("enterprise.intake", "outreach.intake", "mediation.intake")
EVENTS_TOPICS: Final = (
    "enterprise.events",
    "outreach.events",
    "mediation.events",
    "notifier.events",
)
WAIT_S = 60.0


def contract_topics() -> tuple[str, ...]:
    """Every topic the contract names, each followed by its dead-letter topic."""
    return tuple(
        name for topic in (*INTAKE_TOPICS, *EVENTS_TOPICS) for name in (topic, dlq_topic(topic))
    )


async def create(bootstrap_servers: str) -> list[str]:
    """Retry until the broker answers, then create what is missing; return what it created."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return await ensure_topics(bootstrap_servers, contract_topics())
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
    print(f"create_topics: created {len(created)}, all {len(contract_topics())} present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
