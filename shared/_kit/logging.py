"""structlog, configured once: JSON lines off a TTY, colour console on one.

The standard library's loggers (FastStream, aiokafka, uvicorn, pymongo) go through the
same processors, so an operator reads one stream in one format. Phone and ID-card
numbers are masked before anything is written.
"""

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

import structlog

from shared._kit.settings import LogFormat

# Mainland mobile numbers (11 digits from 1[3-9]) and resident ID numbers (17 digits + check).
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# both need eleven digits in a row: most lines have none and are written as they are
_LONG_NUMBER = re.compile(r"[0-9]{11}")


def _mask(text: str) -> str:
    if _LONG_NUMBER.search(text) is None:
        return text
    return _PHONE.sub(r"\1****\2", _ID_CARD.sub(r"\1********\2", text))


def mask_personal_numbers(_logger: Any, _method: str, line: Any) -> Any:
    """structlog processor, after the renderer: mask phone and ID-card numbers in the line
    as written (one pass over one string, whatever field or nesting they came in)."""
    return _mask(line) if isinstance(line, str) else line


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
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[*shared, renderer, mask_personal_numbers],
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
                renderer,
                mask_personal_numbers,
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
