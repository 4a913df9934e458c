"""Building `Event`s for the CLI's unit tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

from cli.events import Event

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
