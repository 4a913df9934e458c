"""The contract's topics (`contract.md`): commands on intakes, facts on events, a DLQ for each."""

from typing import Final

INTAKE_TOPICS: Final = ("enterprise.intake", "outreach.intake", "mediation.intake")
EVENTS_TOPICS: Final = (
    "enterprise.events",
    "outreach.events",
    "mediation.events",
    "notifier.events",
)
DLQ_SUFFIX: Final = ".dlq"
DEFAULT_PARTITIONS: Final = 6


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`, written by whoever consumes `topic`."""
    return f"{topic}{DLQ_SUFFIX}"


def contract_topics() -> tuple[str, ...]:
    """Every topic the contract names, each followed by its dead-letter topic."""
    return tuple(
        name for topic in (*INTAKE_TOPICS, *EVENTS_TOPICS) for name in (topic, dlq_topic(topic))
    )
