"""A demo story: its key, its title, how many steps its progress bar has, how it plays."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cli.facts import word
from cli.i18n import Lang
from cli.stories.stage import Stage

# the station's local time (China Standard Time): dates the services check are local
CST = timedelta(hours=8)


@dataclass(frozen=True)
class Story:
    # the end of its correlation id, `<run>-<key>`: a log line's short correlation id (its
    # first 8 characters, `3fa9c1-e`) tells the run and the story apart
    key: str
    title: str  # its label
    steps: int
    play: Callable[[Stage], Awaitable[None]]


def local_today() -> date:
    return (datetime.now(UTC) + CST).date()


def in_days(days: int) -> str:
    return (local_today() + timedelta(days=days)).isoformat()


def now() -> str:
    return datetime.now(UTC).isoformat()


def kg(value: object) -> str:
    """10,000 (kilograms, grouped)."""
    return f"{float(str(value)):,.0f}"


_WORDS = {
    "urgent_station_full_time": (
        "紧急案件优先专职调解员",
        "urgent: the station's full-time mediator",
    ),
    "serves_block": ("就近社区调解员", "serves the block"),
    "lowest_load": ("案件最少", "fewest cases"),
    "resolved_on_site": ("现场化解", "settled on the spot"),
    "agreement_fulfilled": ("协议履行完毕", "agreement fulfilled"),
}


def words(code: object, lang: Lang) -> str:
    """A code in the narration's words (the CLI's vocabulary, then the demo's own)."""
    found = _WORDS.get(str(code))
    if found is not None:
        return found[0 if lang == "zh" else 1]
    return word(code, lang)
