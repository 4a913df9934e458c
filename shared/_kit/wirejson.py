"""JSON from the wire, within bounds checked on the bytes before anything is built.

Anyone who can write a topic chooses the bytes every consumer of it parses. Python's own
parser builds whatever it is given: a 5,000-digit number raises `ValueError` (the
int-to-str limit), 10,000 nested arrays raise `RecursionError`, NaN, Infinity and
duplicate keys pass silently (and two parsers may disagree on which duplicate wins). So
the size, the nesting and the length of numbers are checked on the raw bytes first, with
scans that run in C (`bytes.count`, `re`, `bytes.translate`) and build at most a copy
of the (size-checked) bytes, no objects; the parse itself then refuses what JSON (RFC
8259, I-JSON RFC 7493) leaves open: non-finite numbers, duplicate keys, lone surrogates.
"""

import json
import math
import re
from typing import Any, Final, NoReturn

MAX_BYTES: Final = 1024 * 1024  # Kafka's own default record limit (message.max.bytes)
MAX_DEPTH: Final = 32  # the contract's deepest (a visit's dispute's parties) nests 6
MAX_DIGITS: Final = 40  # a run of digits in a number: far past any quantity or amount

# a JSON string, escapes included (unrolled: linear, no backtracking)
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# digits kept (as "0"), everything else a space: a long number is then a long run of "0"
_DIGITS: Final = bytes(ord("0") if b in b"0123456789" else ord(" ") for b in range(256))
_LONG_RUN: Final = b"0" * (MAX_DIGITS + 1)
# `\ud800`-`\udfff` written as an escape: a surrogate, paired or not (pairs are checked later)
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")


class RefusedJSONError(ValueError):
    """The bytes are not JSON this system accepts; the message says why."""


def loads(raw: bytes) -> Any:
    """The JSON value of `raw`, or RefusedJSONError saying which bound or rule it breaks."""
    if len(raw) > MAX_BYTES:
        raise RefusedJSONError(f"{len(raw)} bytes, more than the limit of {MAX_BYTES}")
    outside: bytes | None = None
    # a record with fewer brackets than the limit cannot nest deeper: no scan (the usual case)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        outside = _outside_strings(raw)
        if _deeper_than(outside, MAX_DEPTH):
            raise RefusedJSONError(f"nested deeper than {MAX_DEPTH} levels")
    if _LONG_RUN in raw.translate(_DIGITS):  # maybe inside a string, where digits are text
        outside = outside or _outside_strings(raw)
        if _LONG_RUN in outside.translate(_DIGITS):
            raise RefusedJSONError(f"a number with more than {MAX_DIGITS} digits")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RefusedJSONError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(
            text,
            parse_constant=_non_finite,
            parse_float=_finite,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise RefusedJSONError(f"not JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw) is not None:
        _no_lone_surrogates(value)
    return value


def _outside_strings(raw: bytes) -> bytes:
    """The bytes with every string left out (a space in its place): what is left is
    structure, numbers and literals. Where nothing is escaped, strings run from one quote
    to the next (the usual case, and a split is several times faster than the pattern)."""
    if b"\\" not in raw:
        return b" ".join(raw.split(b'"')[::2])
    return _STRING.sub(b" ", raw)


def _deeper_than(outside_strings: bytes, limit: int) -> bool:
    depth = 0
    for bracket in outside_strings.translate(None, _NOT_BRACKETS):
        if bracket in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _non_finite(constant: str) -> NoReturn:
    raise RefusedJSONError(f"{constant} is not a JSON number")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise RefusedJSONError(f"the number {literal[:50]} is out of range")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RefusedJSONError(f"the key {key[:50]!r} appears twice in one object")
            seen.add(key)
    return found


def _no_lone_surrogates(value: Any) -> None:
    # a lone surrogate cannot be encoded again: it would fail later, in a log line, a
    # Kafka key or a database write, far from here
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise RefusedJSONError("a string holds a lone surrogate (\\ud800-\\udfff)") from None
