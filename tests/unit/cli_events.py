"""Building `Event`s for the CLI's unit tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

from cli.events import Event, parse
from shared._kit.envelope import CloudEvent

T0 = datetime(2026, 6, 3, 1, 30, tzinfo=UTC)


def ev(
    type_: str,
    id_: str,
    *,
    cause: str | None = None,
    corr: str = "story-1",
    at_s: float = 0.0,
    subject: str | None = None,
    topic: str | None = None,
    command: bool = False,
    **data: Any,
) -> Event:
    service = type_.split(".", 1)[0]
    kind = "intake" if command else "events"
    return Event(
        topic=topic or f"{service}.{kind}",
        partition=0,
        offset=int(at_s * 1000),
        timestamp=T0 + timedelta(seconds=at_s),
        id=id_,
        type=type_,
        source=f"/services/{service}",
        subject=subject,
        time=T0 + timedelta(seconds=at_s),
        correlationid=corr,
        causationid=cause,
        data=data,
    )


def poison_bytes(event: Event) -> bytes:
    """`event` on the wire with a 5,000-digit number in its data: Python's own JSON parser
    raises ValueError on it, which crashed `tail`, `story` and `report`."""
    good = CloudEvent(
        id=event.id,
        source=event.source,
        type=event.type,
        subject=event.subject,
        time=event.time,
        correlationid=event.correlationid,
        causationid=event.causationid,
        data={**event.data, "poison": 1},
    ).to_bytes()
    return good.replace(b'"poison":1', b'"poison":' + b"9" * 5000)


def poison(event: Event) -> Event:
    """`event` as the CLI reads it from a topic once poisoned (see poison_bytes)."""
    stamp_ms = int(event.timestamp.timestamp() * 1000)
    return parse(event.topic, event.partition, event.offset, stamp_ms, poison_bytes(event))
