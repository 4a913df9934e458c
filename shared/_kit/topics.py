"""Topic names: a service reads `<name>.intake`, writes `<name>.events` (and `<name>.private`);
a DLQ for each topic."""

from typing import Final

DLQ_SUFFIX: Final = ".dlq"


def intake_topic(prefix: str) -> str:
    """Where a service reads its commands (`enterprise.intake`)."""
    return f"{prefix}.intake"


def events_topic(prefix: str) -> str:
    """Where a service publishes its facts (`enterprise.events`)."""
    return f"{prefix}.events"


def private_topic(prefix: str) -> str:
    """Where a service publishes the personal fields of its facts (`enterprise.private`),
    for the consumers allowed to read them."""
    return f"{prefix}.private"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`, written by whoever consumes `topic`."""
    return f"{topic}{DLQ_SUFFIX}"
