"""Nothing from an event or a log line drives the terminal: `tail`, `story`, the log view."""

import asyncio
import io
import json
import subprocess
import sys
from typing import Any

import pytest
from rich.console import Console, RenderableType

from cli.logview import render_raw
from cli.render import event_line, json_shown, log_line, markup_shown, shown
from cli.story import build_story
from cli.story_view import story_tree
from tests.unit.cli_events import ev

# clear the screen, retitle the window, a C1 CSI (ESC [ in one byte), a bell, a line
# break that would fake a second line, and a right-to-left override
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\r\nfake line\u202etxt.exe"
MARKUP = "[bold red]LOUD[/] [link=http://x]click[/link]"
OBEYED = ("\x1b[2J", "\x1b]0;", "\x07", "\x9b", "\r", "\u202e")


def _printed(renderable: RenderableType) -> str:
    """What a colour terminal receives (escape codes and all)."""
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="truecolor", width=400).print(
        renderable, soft_wrap=True, highlight=False
    )
    return out.getvalue()


def _assert_shown_not_obeyed(printed: str) -> None:
    for sequence in OBEYED:
        assert sequence not in printed, repr(sequence)
    assert "[bold red]LOUD[/]" in printed, "markup in an event is shown as written"
    assert "\x1b]8;" not in printed, "no hyperlink made from an event's text"


def test_shown_keeps_text_and_drops_what_a_terminal_would_obey() -> None:
    assert shown("张三 ent-leather-01 10,000 kg") == "张三 ent-leather-01 10,000 kg"
    assert shown(HOSTILE) == "[2J]0;pwned31m  fake linetxt.exe"
    assert shown("\u2066x\u2069\u200f\u061c") == "x"


def test_a_tail_line_shows_an_events_escape_sequences_and_markup_as_text() -> None:
    hostile = ev(
        "mediation.register_mediator",
        "c1",
        subject=f"med-{HOSTILE}",
        corr=f"{HOSTILE}-story",
        command=True,
        name=f"{MARKUP} {HOSTILE}",
        specialties=["family"],
    )
    unknown_type = ev(f"mediation.{MARKUP}{HOSTILE}", "c2", note=HOSTILE)

    for event in (hostile, unknown_type):
        for lang in ("zh", "en"):
            line = event_line(event, lang)
            assert "\n" not in line.plain
            _assert_shown_not_obeyed(_printed(line))
    assert MARKUP in event_line(hostile, "en").plain


def test_a_story_tree_shows_an_events_escape_sequences_and_markup_as_text() -> None:
    events = [
        ev(
            "outreach.register_volunteer",
            "v1",
            corr=f"story-{HOSTILE}",
            command=True,
            name=MARKUP + HOSTILE,
            blocks=["block-01"],
        ),
        ev(
            "outreach.volunteer_registered",
            "v2",
            cause="v1",
            corr=f"story-{HOSTILE}",
            subject=HOSTILE,
            at_s=0.2,
            name=MARKUP + HOSTILE,
            blocks=["block-01"],
        ),
    ]
    story = build_story(events, f"story-{HOSTILE}")

    _assert_shown_not_obeyed(_printed(story_tree(story, "en")))


def test_the_log_view_shows_a_childs_lines_and_log_fields_as_text() -> None:
    record: dict[str, Any] = {
        "timestamp": "2026-06-03T01:30:00.5Z",
        "level": "warning",
        "service": "outreach",
        "event": f"timer_retry {MARKUP}{HOSTILE}",
        "error": HOSTILE,
    }
    rejected = {
        **record,
        "event": "command_rejected",
        "event_type": "outreach.register_household",
        "subject": HOSTILE,
        "reason": MARKUP,
        "errors": [HOSTILE],
    }
    dead = {**record, "event": "dead_lettered", "topic": HOSTILE, "reason": MARKUP}

    for line in (log_line(record), log_line(rejected), log_line(dead)):
        _assert_shown_not_obeyed(_printed(line))
    raw = asyncio.run(render_raw("outreach", f"Traceback {MARKUP} {HOSTILE}", "en"))
    _assert_shown_not_obeyed(_printed(raw))
    as_json = asyncio.run(render_raw("outreach", json.dumps(record, ensure_ascii=False), "en"))
    _assert_shown_not_obeyed(_printed(as_json))


def test_json_for_machines_escapes_c1_and_bidi_controls_and_keeps_the_value() -> None:
    value = {"name": "abc\u202etxt\x85\x9b31m", "note": "张三\x1b[2J"}
    line = json.dumps(value, ensure_ascii=False)

    safe = json_shown(line)

    assert json.loads(safe) == value
    assert "\u202e" not in safe
    assert "\x9b" not in safe
    assert "\x85" not in safe
    assert "张三" in safe, "readable text stays readable"


def test_a_string_printed_as_markup_is_escaped_first() -> None:
    printed = _printed(markup_shown(f"  {MARKUP}{HOSTILE}"))

    _assert_shown_not_obeyed(printed)


SERVICE_SCRIPT = """
import structlog
from shared._kit.logging import configure_logging
configure_logging(service="outreach", fmt=FORMAT)
structlog.get_logger("station.pipeline").info("command_rejected", subject=HOSTILE, reason=MARKUP)
"""


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_services_own_log_line_shows_an_events_text_and_does_not_obey_it(fmt: str) -> None:
    script = (
        SERVICE_SCRIPT.replace("FORMAT", repr(fmt))
        .replace("HOSTILE", repr(HOSTILE))
        .replace("MARKUP", repr(MARKUP))
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    _assert_shown_not_obeyed(done.stderr)
    if fmt == "json":
        assert json.loads(done.stderr)["subject"] == HOSTILE, "JSON keeps the value, escaped"
