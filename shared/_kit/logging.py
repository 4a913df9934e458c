"""structlog, configured once: JSON lines off a TTY, colour console on one.

The standard library's loggers (FastStream, aiokafka, uvicorn, pymongo) go through the
same processors, so an operator reads one stream in one format. Residents' data is masked
before anything is written (shared/_kit/masking.py): personal fields by their names, phone
and ID-card numbers wherever they sit, tracebacks included.
"""

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

import structlog

from shared._kit.masking import mask_fields, mask_rendered
from shared._kit.settings import LogFormat

# what a terminal obeys rather than shows: controls (an ESC sequence recolours, moves the
# cursor, retitles the window; a C1 CSI is ESC [ in one byte) and the bidi controls that
# reorder what is read; JSON escapes C0 itself, so in a JSON line DEL, C1 and bidi remain
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_LEFT_BY_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def controls_dropped(_logger: Any, _method: str, event_dict: Any) -> Any:
    """structlog processor, before the console renderer: a text field from an event (a
    subject, a reason) is shown, never obeyed by the terminal (other values are written
    as their repr, which escapes them)."""
    for key, value in event_dict.items():
        if isinstance(value, str) and _CONTROLS.search(value) is not None:
            event_dict[key] = _CONTROLS.sub("", value)
    return event_dict


def controls_escaped(_logger: Any, _method: str, line: Any) -> Any:
    """structlog processor, after the JSON renderer: DEL, C1 and bidi controls written as
    `\\u` escapes, as JSON writes C0 (the same value, harmless on a terminal)."""
    if not isinstance(line, str) or _CONTROLS_LEFT_BY_JSON.search(line) is None:
        return line
    return _CONTROLS_LEFT_BY_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", line)


# lines held to be written together (see `lines_together`), per task
_HELD: ContextVar[list[str] | None] = ContextVar("station_log_held", default=None)
# held lines are written at the latest every so many, so a long run still shows as it goes
HELD_AT_MOST = 256


class _NamedWriteLogger(structlog.WriteLogger):
    """Writes rendered lines to a stream, and knows its name (the `logger` field)."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name

    def msg(self, message: str) -> None:
        held = _HELD.get()
        if held is None:
            super().msg(message)
            return
        held.append(message)
        if len(held) >= HELD_AT_MOST:
            self._write_held(held)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg

    def _write_held(self, held: list[str]) -> None:
        with self._lock:
            self._write("\n".join(held) + "\n")
            self._flush()
        held.clear()


@contextmanager
def lines_together() -> Iterator[None]:
    """Lines this task logs inside are written in one write each few hundred (and at the
    end), not one write each: a campaign logs tens of thousands at once, and each write
    to a pipe is a system call. Lines of other tasks are written as they come."""
    held: list[str] = []
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)
        if held:
            _stderr_logger()._write_held(held)


def _stderr_logger(*args: Any) -> _NamedWriteLogger:
    return _NamedWriteLogger(sys.stderr, str(args[0]) if args else "")


def configure_logging(*, service: str, level: str = "INFO", fmt: LogFormat = "auto") -> None:
    """Set up structlog and route the standard library's logging through it.

    Our own lines go straight from structlog to stderr (no `logging.LogRecord`, handler or
    formatter on the way: a campaign logs one line per visit it hands out, tens of
    thousands at once); the standard library's go through the same processors."""
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info
        if json_lines
        else structlog.processors.StackInfoRenderer(),
        mask_fields,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_lines
        # a handler's locals hold residents' records: a traceback shows the code, not them
        else structlog.dev.ConsoleRenderer(
            colors=True, exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
        )
    )
    # JSON lines carry the traceback as a field, masked with the others; the console
    # renderer draws it from the exception, so its whole line is masked once more
    before: list[structlog.types.Processor] = [] if json_lines else [controls_dropped]
    after: list[structlog.types.Processor] = [controls_escaped] if json_lines else [mask_rendered]
    structlog.configure(
        processors=[*shared, *before, renderer, *after],
        logger_factory=_stderr_logger,
        wrapper_class=structlog.make_filtering_bound_logger(level.lower()),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *before,
                renderer,
                *after,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # their INFO chatter (per-connection, per-request) drowns the events operators read
    for noisy in ("aiokafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
