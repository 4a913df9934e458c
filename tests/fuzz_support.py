"""What the fuzz tests share (no tests here): messages generated from the services' own
models, the same messages mutated the way a careless or hostile sender would, raw records
that are not CloudEvents, and the checks every outcome must pass.

Valid payloads are built from each model's fields (types, lengths, ranges, patterns and
the kit's field validators in `shared/_kit/fields.py`), so a bound added to a model is a
bound the generator respects; a few field names get values from the services' vocabulary
(CAS numbers, blocks, schemes, categories, ids seen in earlier facts) so that generated
commands reach the rules instead of stopping at `unknown_enterprise`.

Hypothesis profiles: `ci` (derandomised, no example database) is loaded when `CI` is set,
so CI runs the same cases every time; otherwise examples are random and failures are
replayed from `.hypothesis/`.
"""

import asyncio
import copy
import inspect
import json
import math
import os
import string
import types
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from functools import cache
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import bson
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from services.enterprise.catalogue import CATALOGUE
from services.mediation.messages import CATEGORIES
from services.outreach.vocabulary import SCHEMES, all_blocks
from shared._kit import fields as kit_fields
from shared._kit.consuming import Consumer, RetryPolicy
from shared._kit.envelope import CloudEvent
from shared._kit.failures import Failures
from shared._kit.memory import MemoryDatabase
from shared._kit.metrics import PlatformMetrics
from shared._kit.runtime import Runtime
from shared.testing import START, Scenario

# no `explain` phase: on Python 3.11 it traces every line, minutes for one failure
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
# CI neither shrinks nor explains: derandomised, a failure there is the same example on
# any machine, shrunk locally; shrinking 100k-character examples on 2 cores took minutes
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=_QUIET,
)
settings.register_profile("dev", phases=_PHASES, suppress_health_check=_QUIET)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# a MongoDB document's limit, and Kafka's default largest message (message.max.bytes)
BSON_MAX: Final = 16 * 1024 * 1024
KAFKA_MESSAGE_MAX: Final = 1024 * 1024
# no single message may keep a service busy longer than this, whatever it carries
STEP_TIMEOUT_S: Final = 10.0
# collections that record what was handled, not what was decided: a refusal is recorded
BOOKKEEPING: Final = frozenset({"processed"})

JSON = Any
# how a value is drawn: `draw` of a composite strategy, or `data.draw` of `st.data()`
Draw = Callable[[st.SearchStrategy[Any]], Any]


# -- valid payloads from the models -----------------------------------------------------


@dataclass(frozen=True)
class _Bounds:
    """What the metadata of one field (and the Annotated types around it) allows."""

    min_length: int | None = None
    max_length: int | None = None
    # numbers, or dates for a `date` field
    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None
    pattern: str | None = None
    validators: tuple[Callable[..., Any], ...] = ()

    def with_metadata(self, metadata: Any) -> "_Bounds":
        found = self
        for meta in metadata:
            if isinstance(meta, FieldInfo):
                found = found.with_metadata(meta.metadata)
                continue
            changes = {
                name: getattr(meta, name)
                for name in ("min_length", "max_length", "ge", "gt", "le", "lt", "pattern")
                if getattr(meta, name, None) is not None
            }
            func = getattr(meta, "func", None)
            if callable(func):
                changes["validators"] = (*found.validators, func)
            found = replace(found, **changes)
        return found

    def validated_by(self, func: Callable[..., Any]) -> bool:
        return any(v is func for v in self.validators)

    def item(self) -> "_Bounds":
        """What passes on to a list's items: nothing (their own Annotated says theirs)."""
        return _Bounds()

    def fits(self, value: Any) -> bool:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (
                (self.ge is None or value >= self.ge)
                and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le)
                and (self.lt is None or value < self.lt)
            )
        if isinstance(value, str | list):
            return (self.min_length is None or len(value) >= self.min_length) and (
                self.max_length is None or len(value) <= self.max_length
            )
        return True


BLOCKS: Final = all_blocks(3)  # few blocks, so households, volunteers and warnings meet
_CHARS_REFUSED = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")


def _ids(name: str) -> st.SearchStrategy[str]:
    stem = name.removesuffix("_id").removesuffix("s").replace("_", "-")
    return st.sampled_from([f"{stem}-{n}" for n in range(1, 4)])


_BY_NAME: Final[dict[str, st.SearchStrategy[Any]]] = {
    "cas": st.sampled_from(sorted(CATALOGUE)),
    "block": st.sampled_from(BLOCKS),
    "blocks[]": st.sampled_from(BLOCKS),
    "scheme": st.sampled_from(sorted(SCHEMES)),
    "category": st.sampled_from(CATEGORIES),
    "specialties[]": st.sampled_from(CATEGORIES),
    "lat": st.floats(28.3, 28.6),
    "lon": st.floats(119.8, 120.1),
    "max_open_visits": st.integers(1, 4),
    "max_active_cases": st.integers(1, 4),
    "term_index": st.integers(0, 3),
}


def _digits(count: int) -> st.SearchStrategy[str]:
    return st.text(string.digits, min_size=count, max_size=count)


def _spelt(digits: str, prefix: str, separator: str, full_width: bool) -> str:
    """One way people write a number: +86 or not, separators, full-width digits."""
    groups = [digits[:3], digits[3:7], digits[7:]] if separator else [digits]
    text = prefix + separator.join(g for g in groups if g)
    if full_width:
        text = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)
    return text


@st.composite
def phones(draw: st.DrawFn) -> str:
    """A valid Chinese mobile or landline number, in one of the spellings people use."""
    if draw(st.booleans()):
        digits = "1" + draw(st.sampled_from("3456789")) + draw(_digits(9))
        prefix = draw(st.sampled_from(["", "+86 ", "0086"]))
        return _spelt(digits, prefix, draw(st.sampled_from(["", "-", " "])), draw(st.booleans()))
    area = draw(st.sampled_from(["010", "021", "0571", "0578"]))
    return f"{area}-{draw(_digits(draw(st.sampled_from([7, 8]))))}"


emails: Final = st.builds(
    "{}@{}.{}".format,
    st.text(string.ascii_lowercase, min_size=1, max_size=12),
    st.text(string.ascii_lowercase, min_size=1, max_size=12),
    st.sampled_from(["cn", "com", "org"]),
)


def _text(bounds: _Bounds, name: str) -> st.SearchStrategy[str]:
    lo = bounds.min_length or 0
    hi = bounds.max_length if bounds.max_length is not None else max(lo, 40)
    line = bounds.validated_by(kit_fields._line)
    lines = bounds.validated_by(kit_fields._lines)
    if bounds.validated_by(kit_fields._phone) or name.endswith("phone"):
        return phones()
    if bounds.validated_by(kit_fields._email) or name.endswith("email"):
        return emails
    if bounds.pattern is not None:
        found: st.SearchStrategy[str] = st.from_regex(bounds.pattern, fullmatch=True)
    elif line or lines:
        alphabet = st.characters(
            exclude_categories=_CHARS_REFUSED,  # type: ignore[arg-type]
            include_characters="\n" if lines else None,
        )
        found = st.text(alphabet, min_size=lo, max_size=hi).map(
            lambda s: unicodedata.normalize("NFC", s).strip()
        )
    else:
        found = st.text(min_size=lo, max_size=hi)
    if name.endswith("_id"):
        found = _ids(name) | found
    return found.filter(bounds.fits)


def _int_range(bounds: _Bounds) -> tuple[int | None, int | None]:
    lows = [math.ceil(bounds.ge)] if bounds.ge is not None else []
    lows += [math.floor(bounds.gt) + 1] if bounds.gt is not None else []
    highs = [math.floor(bounds.le)] if bounds.le is not None else []
    highs += [math.ceil(bounds.lt) - 1] if bounds.lt is not None else []
    return max(lows, default=None), min(highs, default=None)


def _number(tp: type, bounds: _Bounds, name: str) -> st.SearchStrategy[Any]:
    found: st.SearchStrategy[Any]
    if tp is int:
        found = st.integers(*_int_range(bounds))
        if name.endswith("_yuan"):
            found = st.integers(0, 200_000) | found
    else:
        found = st.floats(
            min_value=bounds.ge if bounds.ge is not None else bounds.gt,
            max_value=bounds.le if bounds.le is not None else bounds.lt,
            exclude_min=bounds.ge is None and bounds.gt is not None,
            exclude_max=bounds.le is None and bounds.lt is not None,
            allow_nan=False,
            allow_infinity=False,
        )
        if name.endswith("_kg"):
            found = st.integers(0, 40_000).map(float) | st.floats(0, 40_000) | found
    return found.filter(bounds.fits)


def for_annotation(  # noqa: PLR0911, PLR0912 - one answer per kind of annotation
    tp: Any, bounds: _Bounds, name: str
) -> st.SearchStrategy[JSON]:
    """JSON values a field of this annotation accepts."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metadata = get_args(tp)
        return for_annotation(base, bounds.with_metadata(metadata), name)
    if tp is type(None):
        return st.none()
    if origin in (Union, types.UnionType):
        return st.one_of([for_annotation(arm, bounds, name) for arm in get_args(tp)])
    if name in _BY_NAME:
        return _BY_NAME[name].filter(bounds.fits)
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from([e.value for e in tp])
    if tp is bool:
        return st.booleans()
    if tp in (int, float):
        return _number(tp, bounds, name)
    if tp is str:
        return _text(bounds, name)
    if tp is date:
        first = max(START.date() - timedelta(days=30), bounds.ge or date.min)
        last = min(START.date() + timedelta(days=90), bounds.le or date.max)
        return st.dates(first, last).map(date.isoformat)
    if tp in (datetime, AwareDatetime):
        zones = st.sampled_from([UTC, timezone(timedelta(hours=8))])
        moments = st.datetimes(
            START.replace(tzinfo=None) - timedelta(days=30),
            START.replace(tzinfo=None) + timedelta(days=90),
            timezones=zones,
        )
        return moments.map(datetime.isoformat)
    if origin in (list, tuple, set, frozenset):
        (item,) = get_args(tp)[:1]
        lo = bounds.min_length or 0
        hi = bounds.max_length if bounds.max_length is not None else max(lo, 4)
        return st.lists(
            for_annotation(item, bounds.item(), f"{name}[]"),
            min_size=lo,
            max_size=min(hi, max(lo, 6)),
            unique_by=_distinct_by(bounds, origin),
        )
    if origin is dict:
        key, value = get_args(tp)
        return st.dictionaries(
            for_annotation(key, _Bounds(), f"{name}{{}}"),
            for_annotation(value, _Bounds(), f"{name}[]"),
            max_size=4,
        )
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return valid(tp)
    raise TypeError(f"fuzz_support cannot generate {tp!r} (field {name}): teach for_annotation")


def _distinct_by(bounds: _Bounds, origin: Any) -> Callable[[Any], str] | None:
    """How a list's entries must differ, if they must: whole (`Distinct`, sets) or by one
    key of theirs (`distinct_by("cas")`, read from the validator's closure)."""
    if bounds.validated_by(kit_fields._distinct) or origin in (set, frozenset):
        return repr
    for func in bounds.validators:
        if func.__qualname__.startswith("distinct_by."):
            key = inspect.getclosurevars(func).nonlocals.get("key")
            return lambda entry: repr(entry.get(key) if isinstance(entry, dict) else entry)
    return None


@cache
def valid(model: type[BaseModel]) -> st.SearchStrategy[dict[str, JSON]]:
    """Payloads (`data`, in JSON form) the model accepts, optional fields sometimes left out."""
    required: dict[str, st.SearchStrategy[JSON]] = {}
    optional: dict[str, st.SearchStrategy[JSON]] = {}
    for name, info in model.model_fields.items():
        strategy = for_annotation(info.annotation, _Bounds().with_metadata(info.metadata), name)
        (required if info.is_required() else optional)[info.alias or name] = strategy
    # a rule across fields (an erasure names a phone or an ID number) is the model's own:
    # what it refuses is not a valid payload
    return st.fixed_dictionaries(required, optional=optional).filter(
        lambda data: accepts(model, data)
    )


def accepts(model: type[BaseModel], data: JSON) -> bool:
    """Whether the model takes this payload; anything it raises other than a validation
    error counts as a refusal the pipeline must turn into one."""
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    except Exception:  # noqa: BLE001 - the property is that the service survives it
        return False
    return True


# -- ids the service minted: later commands refer to them ---------------------------------


@dataclass
class KnownIds:
    """Ids by field name, as the service's own facts stated them (transfers, cases, visits)."""

    by_field: dict[str, list[str]] = field(default_factory=dict)

    def learn(self, events: list[CloudEvent]) -> None:
        for event in events:
            for key, value in _leaves(event.data or {}):
                if key.endswith("_id") and isinstance(value, str) and len(value) <= 64:
                    seen = self.by_field.setdefault(key, [])
                    if value not in seen:
                        seen.append(value)

    def relinked(self, draw: Draw, data: dict[str, JSON]) -> dict[str, JSON]:
        """The payload with some top-level ids replaced by ids the service minted."""
        for key in list(data):
            known = self.by_field.get(key)
            if known and draw(st.booleans()):
                data[key] = draw(st.sampled_from(known))
        return data


def _leaves(value: JSON, key: str = "", depth: int = 0) -> Iterator[tuple[str, JSON]]:
    if depth > 6:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, str(k), depth + 1)
    elif isinstance(value, list):
        for v in value[:200]:
            yield from _leaves(v, key, depth + 1)
    else:
        yield key, value


# -- mutations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RawJSON:
    """A value written into the record's JSON text as it is: what `json.dumps` will not
    write (5,000 digits, 10,000 levels) but a sender can."""

    text: bytes
    label: str

    def __repr__(self) -> str:
        return f"RawJSON({self.label})"


HUGE_NUMBER: Final = RawJSON(b"9" * 5_000, "5,000-digit number")
DEEP_LIST: Final = RawJSON(b"[" * 10_000 + b"]" * 10_000, "10,000 nested arrays")
DEEP_OBJECT: Final = RawJSON(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "10,000 nested objects")
HOSTILE_STRINGS: Final = [
    "",
    " ",
    "\u3000",
    "\x00",
    "a\x00b",
    "\x1b[2J\x1b[31mred\x1b[0m",
    "\u202eevil",
    "zero\u200bwidth",
    "a\r\nBcc: x@y.cn",
    "\ud800",
    "\U0001f4a3",
    "[bold red]markup[/]",
    "\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10",
    "e\u0301",
    "\ufeffbom",
    "$gt",
    "a.b",
    "block-99",
    "../../etc/passwd",
    "null",
    "1e400",
    "x" * 100_000,
    "\u754c" * 70_000,
]
HOSTILE_NUMBERS: Final[list[JSON]] = [
    0,
    -1,
    -0.0,
    0.5,
    -1e-300,
    1e308,
    -1e308,
    math.nan,
    math.inf,
    -math.inf,
    2**53 + 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    HUGE_NUMBER,
]
WRONG_TYPES: Final[list[JSON]] = [None, True, False, [], {}, [None], {"": None}, "1", 1, 1.5]


def hostile_values() -> st.SearchStrategy[JSON]:
    return st.one_of(
        st.sampled_from(HOSTILE_STRINGS),
        st.sampled_from(HOSTILE_NUMBERS),
        st.sampled_from(WRONG_TYPES).map(copy.deepcopy),  # mutations edit what they add
        st.sampled_from([DEEP_LIST, DEEP_OBJECT]),
        st.builds(lambda n: [0] * n, st.sampled_from([1_000, 20_000])),
        st.builds(lambda n: {f"k{i}": i for i in range(n)}, st.just(10_000)),
        st.text(max_size=20),
        st.integers(),
        st.floats(),
    )


def _paths(value: JSON, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a payload (the root included), not descending into what a mutation
    made huge."""
    yield here
    if len(here) > 6:
        return
    if isinstance(value, dict) and len(value) <= 50:
        for key in value:
            yield from _paths(value[key], (*here, key))
    elif isinstance(value, list) and len(value) <= 50:
        for index in range(len(value)):
            yield from _paths(value[index], (*here, index))


def _at(value: JSON, path: tuple[Any, ...]) -> JSON:
    for step in path:
        value = value[step]
    return value


def _edited(draw: st.DrawFn, old: JSON) -> JSON:  # noqa: PLR0911 - one answer per edit
    """A new value for one place, chosen for what is there now."""
    if isinstance(old, str):
        edit = draw(st.sampled_from(["hostile", "inject", "huge", "numeric"]))
        if edit == "inject":
            where = draw(st.integers(0, len(old)))
            return old[:where] + draw(st.sampled_from(HOSTILE_STRINGS[:21])) + old[where:]
        if edit == "huge":
            return (old or "x") * max(2, 100_000 // max(1, len(old)))
        if edit == "numeric":
            return draw(st.sampled_from(HOSTILE_NUMBERS))
    elif isinstance(old, int | float) and not isinstance(old, bool):
        edit = draw(st.sampled_from(["hostile", "negated", "stringified"]))
        if edit == "negated":
            return -old - 1
        if edit == "stringified":
            return str(old)
        return draw(st.sampled_from(HOSTILE_NUMBERS))
    elif isinstance(old, list):
        edit = draw(st.sampled_from(["hostile", "repeated", "doubled", "emptied"]))
        if edit == "repeated":  # to some 5,000 entries, never more (memory is shared)
            return (old or [None]) * max(1, 5_000 // max(1, len(old)))
        if edit == "doubled":
            return old + old[:5_000]
        if edit == "emptied":
            return []
    return draw(hostile_values())


@st.composite
def mutated(draw: st.DrawFn, data: dict[str, JSON]) -> JSON:
    """The payload with one to three things done to it: a field dropped, replaced by a value
    of the wrong type or size, edited, or an unknown field added."""
    value: JSON = data
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(value, dict):
            break
        path = draw(st.sampled_from(list(_paths(value))))
        op = draw(st.sampled_from(["drop", "edit", "edit", "add"]))
        target = _at(value, path)
        if op == "add" and isinstance(target, dict):
            key = draw(st.sampled_from(["extra", "$set", "a.b", "", "\x00", "_id"]))
            target[key] = draw(hostile_values())
        elif not path:
            value = draw(st.sampled_from([{}, None, []]))
        elif op == "drop":
            del _at(value, path[:-1])[path[-1]]
        else:
            _at(value, path[:-1])[path[-1]] = _edited(draw, target)
    return value


# -- CloudEvents and raw records -------------------------------------------------------


def to_json(value: JSON, *, ascii_only: bool) -> bytes:
    """JSON text as a sender would write it, `RawJSON` values spliced in as they are; lone
    surrogates become `\\ud800` escapes (`ascii_only`) or bytes that are no UTF-8."""
    raws: dict[bytes, bytes] = {}

    def placeholder(obj: object) -> str:
        if not isinstance(obj, RawJSON):
            raise TypeError(type(obj).__name__)
        key = f"@@raw{len(raws)}@@"
        raws[json.dumps(key).encode()] = obj.text
        return key

    text = json.dumps(value, default=placeholder, ensure_ascii=ascii_only, allow_nan=True)
    out = text.encode("utf-8", "surrogatepass")
    for key, raw in raws.items():
        out = out.replace(key, raw)
    return out


@dataclass(frozen=True)
class Envelope:
    """A command or fact as a sender puts it on a topic."""

    id: str
    source: str
    type: str
    subject: str | None
    data: JSON
    time: str | None = START.isoformat()
    extensions: dict[str, JSON] = field(default_factory=dict)
    odd: str | None = None  # which envelope attribute was made odd, if any

    def to_bytes(self, *, ascii_only: bool = False) -> bytes:
        attributes: dict[str, JSON] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "datacontenttype": "application/json",
        }
        if self.subject is not None:
            attributes["subject"] = self.subject
        if self.time is not None:
            attributes["time"] = self.time
        if self.data is not None:
            attributes["data"] = self.data
        return to_json({**attributes, **self.extensions}, ascii_only=ascii_only)

    @property
    def key(self) -> bytes | None:
        return self.subject.encode("utf-8", "surrogatepass") if self.subject else None


def envelope(
    draw: Draw, *, event_id: str, source: str, event_type: str, data: JSON, subject: str | None
) -> Envelope:
    """Usually well formed; one time in ten with an odd id, subject, source, time or
    extension attribute (the id stays unique, so nothing is taken for a redelivery)."""
    plain = Envelope(id=event_id, source=source, type=event_type, subject=subject, data=data)
    if draw(st.integers(0, 9)) != 0:
        return plain
    what = draw(st.sampled_from(["id", "subject", "source", "time", "extension"]))
    hostile = draw(st.sampled_from(HOSTILE_STRINGS))
    if what == "id":
        return replace(plain, id=f"{hostile}-{event_id}", odd=what)
    if what == "subject":
        return replace(plain, subject=draw(st.sampled_from([None, hostile])), odd=what)
    if what == "source":
        forged = draw(st.sampled_from(["/services/enterprise", "/services/notifier", hostile]))
        return replace(plain, source=forged, odd=what)
    if what == "time":
        odd_time = draw(st.sampled_from([None, "9999-12-31T23:59:59+00:00", "yesterday"]))
        return replace(plain, time=odd_time, odd=what)
    name = draw(st.sampled_from(["xext", "traceparent", "data_base64", "specversion2"]))
    return replace(plain, extensions={name: draw(hostile_values())}, odd=what)


def subject_of(model: type[Any], data: JSON) -> str | None:
    name = getattr(model, "subject_field", None)
    # (CloudEvents: a subject, if present, is a non-empty string)
    if isinstance(data, dict) and name in data and isinstance(data[name], str) and data[name]:
        return str(data[name])
    return None


def _with_duplicate_key(raw: bytes, key: str, value: JSON) -> bytes:
    """The same object with `key` written a second time, first (JSON allows it on paper)."""
    return b'{"' + key.encode() + b'": ' + json.dumps(value).encode() + b", " + raw[1:]


BREAKS: Final = [
    "truncated",
    "bit_flip",
    "invalid_utf8",
    "huge_number",
    "deep_data",
    "deep_extension",
    "nan_literal",
    "duplicate_type",
    "duplicate_data",
    "data_list",
    "bom",
    "padded",
    "not_an_object",
]


@st.composite
def broken(draw: st.DrawFn, good: bytes) -> tuple[str, bytes]:  # noqa: PLR0911 - one per break
    """A good CloudEvent's bytes, broken one way (named)."""
    how = draw(st.sampled_from(BREAKS))
    end = good.rindex(b"}")
    if how == "truncated":
        return how, good[: draw(st.integers(0, len(good) - 1))]
    if how == "bit_flip":
        at = draw(st.integers(0, len(good) - 1))
        return how, good[:at] + bytes([good[at] ^ (1 << draw(st.integers(0, 7)))]) + good[at + 1 :]
    if how == "invalid_utf8":
        at = draw(st.integers(1, len(good) - 1))
        return how, good[:at] + b"\xff\xfe" + good[at:]
    tails = {
        "huge_number": b', "data": {"quantity_kg": ' + HUGE_NUMBER.text + b"}",
        "deep_data": b', "data": {"x": ' + DEEP_LIST.text + b"}",
        "deep_extension": b', "xdeep": ' + DEEP_OBJECT.text,
        "nan_literal": b', "data": {"quantity_kg": NaN, "max_open_visits": Infinity}',
        "data_list": b', "data": [1, 2, 3]',
    }
    if how in tails:  # (a key written last wins in Python's json: these replace `data`)
        return how, good[:end] + tails[how] + b"}"
    if how == "duplicate_type":
        return how, _with_duplicate_key(good, "type", "enterprise.unknown")
    if how == "duplicate_data":
        return how, _with_duplicate_key(good, "data", {"hidden": True})
    if how == "bom":
        return how, b"\xef\xbb\xbf" + good
    if how == "padded":
        return how, good + b" " * draw(st.sampled_from([1, 2_000_000]))
    return how, json.dumps(draw(st.sampled_from([[], "event", 1, None, [good.decode()]]))).encode()


# records made so that they cannot be a CloudEvent, whoever reads them
CERTAINLY_NOT_A_CLOUDEVENT: Final = frozenset(
    {"garbage", "truncated", "invalid_utf8", "not_an_object"}
)

garbage: Final = st.one_of(
    st.binary(max_size=512),
    st.just(b""),
    st.text(max_size=200).map(str.encode),
    st.just(b"{" * 100_000),
    st.just(DEEP_LIST.text),
    st.just(HUGE_NUMBER.text),
    st.just(b'{"specversion": "1.0"}'),
    st.just(b'{"specversion": "0.3", "id": "x", "source": "/x", "type": "t"}'),
    st.just(b"x" * 2_000_000),
)
"""Records that are no CloudEvent at all."""


@st.composite
def intake_record(
    draw: st.DrawFn, routes: Mapping[str, Any], number: int, *, largest: int | None = None
) -> tuple[str, bytes]:
    """A raw record for an intake whose routes are given, named by how it was made: a valid
    command, a mutated one, one of an unknown type, garbage, or a good one broken. Its id
    (if it still has one) is `rec-<number>`; `largest` leaves out bigger records."""
    command_type = draw(st.sampled_from(sorted(routes)))
    model = routes[command_type].model
    payload = draw(valid(model))
    how = draw(st.sampled_from(["valid", "mutated", "unknown_type", "garbage", "broken"]))
    if how == "mutated":
        payload = draw(mutated(payload))
    elif how == "unknown_type":
        command_type = draw(st.sampled_from(["x.unknown", "enterprise.over_capacity_detected"]))
    sent = Envelope(
        id=f"rec-{number}",
        source="/intake/fuzz",
        type=command_type,
        subject=subject_of(model, payload),
        data=payload,
    )
    good = sent.to_bytes(ascii_only=draw(st.booleans()))
    if how == "garbage":
        made = how, draw(garbage)
    elif how == "broken":
        made = draw(broken(good))
    else:
        made = how, good
    if largest is not None and len(made[1]) > largest:
        return "garbage", draw(st.binary(max_size=512))
    return made


def reference_reading(raw: bytes) -> CloudEvent | None:
    """The bytes read by the standard library's JSON and the envelope's attributes,
    independently of the service's parser (which may refuse more); None if not an event."""
    try:
        payload = json.loads(raw)
        if not isinstance(payload, dict):
            return None
        return CloudEvent.model_validate(payload)
    except Exception:  # noqa: BLE001 - whatever the reason, it is not a CloudEvent
        return None


# -- what every outcome must satisfy ----------------------------------------------------


def snapshot(db: MemoryDatabase) -> dict[str, dict[Any, Any]]:
    """Every document of every collection but the bookkeeping ones, as they are now."""
    return {
        name: copy.deepcopy(collection.docs)
        for name, collection in db.collections.items()
        if name not in BOOKKEEPING and collection.docs
    }


def storage_problems(db: MemoryDatabase) -> list[str]:
    """Documents the real server would refuse: not encodable as BSON, or over 16 MiB."""
    problems = []
    for name, collection in db.collections.items():
        for doc_id, doc in collection.docs.items():
            try:
                size = len(bson.encode(doc))
            except Exception as exc:  # noqa: BLE001 - each reason is the finding
                problems.append(f"{name}/{str(doc_id)[:80]}: {type(exc).__name__}: {exc}"[:300])
                continue
            if size > BSON_MAX:
                problems.append(f"{name}/{str(doc_id)[:80]}: {size} bytes")
    return problems


def wire_problems(events: list[CloudEvent]) -> list[str]:
    """Events that could not be published, or that their consumers could not read back."""
    problems = []
    for event in events:
        try:
            raw = event.to_bytes()
        except Exception as exc:  # noqa: BLE001 - each reason is the finding
            problems.append(f"{event.type}: cannot be serialised: {type(exc).__name__}: {exc}")
            continue
        if len(raw) > KAFKA_MESSAGE_MAX:
            problems.append(f"{event.type}: {len(raw)} bytes, over Kafka's message limit")
            continue
        try:
            CloudEvent.from_bytes(raw)
        except Exception as exc:  # noqa: BLE001 - each reason is the finding
            problems.append(f"{event.type}: its consumers cannot read it: {exc}"[:300])
    return problems


@dataclass
class Tally:
    """How many cases a fuzz test ran, by how they ended."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: str) -> None:
        self.counts["cases"] += 1
        self.counts[outcome] += 1

    def report(self, record: Callable[[str, object], None]) -> str:
        line = f"fuzz {self.name}: " + ", ".join(f"{k}={v}" for k, v in self.counts.most_common())
        record("fuzz_cases", self.counts["cases"])
        print(line)  # shown with -s or -rP; the count also goes to the JUnit report
        return line


# -- a service in memory, fed records the way its consumers are -------------------------


@dataclass
class DeadLetter:
    record: ConsumerRecord[bytes, bytes]
    reason: str
    error: str


@dataclass
class CollectedDeadLetters:
    """The DLQ, in memory: every record given to it, with its reason."""

    letters: list[DeadLetter] = field(default_factory=list)

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str
    ) -> None:
        self.letters.append(DeadLetter(record, reason, error))

    def of(self, record: ConsumerRecord[bytes, bytes]) -> list[DeadLetter]:
        return [
            d
            for d in self.letters
            if (d.record.topic, d.record.partition, d.record.offset)
            == (record.topic, record.partition, record.offset)
        ]


@dataclass
class Delivered:
    """What one delivery of records gave: the events published (reactions included) and
    the dead letters."""

    events: list[CloudEvent]
    dead: list[DeadLetter]

    def answers(self, event_id: str) -> list[CloudEvent]:
        """What was published in direct answer to the record with this id."""
        return [e for e in self.events if e.causationid == event_id]


class Fed:
    """A service on a Scenario, whose records go through the real `Consumer` (parser,
    batch and per-record paths, retries, dead letters) and then the service's reactions
    to its own facts, as `Scenario.when` feeds them."""

    def __init__(self, scenario: Scenario[Any]) -> None:
        self.scenario = scenario
        self.dead_letters = CollectedDeadLetters()
        self._offsets: Counter[tuple[str, int]] = Counter()

    @property
    def runtime(self) -> Runtime[Any]:
        return self.scenario.runtime

    def consumer(self, topic: str) -> Consumer:
        return Consumer(
            self.scenario.pipeline,
            topic,
            self.runtime.routes.get(topic, {}),
            topic == self.runtime.intake,
            self.dead_letters,
            PlatformMetrics(),
            RetryPolicy(Failures().transient, initial_backoff_s=0),
        )

    def record(
        self, topic: str, value: bytes, *, key: bytes | None = None, partition: int = 0
    ) -> ConsumerRecord[bytes, bytes]:
        offset = self._offsets[(topic, partition)]
        self._offsets[(topic, partition)] += 1
        return ConsumerRecord(topic, partition, offset, 0, 0, key, value, None, 0, 0, [])

    async def settled(self) -> None:
        """Background bookkeeping done (outboxes marked sent, handled records written), so
        that two snapshots differ only by what a record decided."""
        for store in self.runtime.stores:
            await store.mark_sent()
        await self.runtime.processed.written_later()

    async def deliver(self, records: list[ConsumerRecord[bytes, bytes]]) -> Delivered:
        """The records through one topic's consumer as one batch, then every reaction;
        fails if that takes longer than STEP_TIMEOUT_S (a stall)."""
        start, dead = len(self.scenario.published), len(self.dead_letters.letters)
        topic = records[0].topic
        consumer = self.consumer(topic)
        await asyncio.wait_for(consumer.handle_batch(records), STEP_TIMEOUT_S)
        events = list(self.scenario.published[start:])
        if self.runtime.events in self.runtime.routes:
            for event in list(events):
                outcome = await asyncio.wait_for(
                    self.scenario.when_raw(self.runtime.events, event), STEP_TIMEOUT_S
                )
                events += outcome.events
        await self.settled()
        return Delivered(events, self.dead_letters.letters[dead:])
