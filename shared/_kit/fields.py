"""Bounded field types for every message: no string, list or number without a limit.

A command is the edge of the station: whatever it carries is stored, published and may
end up in a message the police sign. So every field says how long it may be, what it may
contain and in what range it lies, and a value outside is refused with the field's name
(`command_rejected`), before anything is decided.

- `Id`: what senders choose as ids (`ent-leather-01`, `block-07`): short, printable ASCII.
- `Name`, `ShortText`, `Text`: human text, NFC-normalised, trimmed, without control
  characters (`Text` keeps line breaks), each with a maximum length.
- `PhoneNumber`: a Chinese mobile or landline number in any usual spelling (`+86 138-1234-5678`,
  full-width digits, `(010) 1234 5678`), normalised to `13812345678` or `010-12345678`.
- `EmailAddress`: one address, nothing else (no display name, no second recipient, no
  line break), normalised by `email-validator`.
- `Kilograms` (`SignedKilograms` where the rules refuse the sign), `Yuan`, `Age`, `Day`,
  `Moment`: quantities, money, ages, dates and times within the ranges the station's work
  can have.
- `bounded(n)` caps a list; `Distinct` and `distinct_by(key)` refuse a list naming the
  same thing twice.
"""

import re
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

T = TypeVar("T")

ID_MAX: Final = 64
NAME_MAX: Final = 64
SHORT_TEXT_MAX: Final = 200
TEXT_MAX: Final = 2000
PHONE_INPUT_MAX: Final = 32
EMAIL_MAX: Final = 254
# how many entries a list in a command may have, unless its field says otherwise
LIST_MAX: Final = 100
# 100,000 t: more than any permit a county issues, far below where a float loses the gram
KG_MAX: Final = 100_000_000
# 1,000,000,000 yuan: above any sum a fraud report or a finding names
YUAN_MAX: Final = 1_000_000_000
AGE_MAX: Final = 150
# dates and times a command may name: a typo (20260 for 2026) is refused, not stored
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)

# `/` too: ids services mint and senders quote back are shaped so (`block-01/3f2a…`)
Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$"),
]


def _clean(value: object, *, keep_newlines: bool) -> object:
    """NFC, trimmed, control and format characters refused (they reorder or hide text in
    a terminal, a log or an SMS); line breaks kept only where asked."""
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", value).strip()
    for char in text:
        if keep_newlines and char == "\n":
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            raise ValueError(f"contains the control character U+{ord(char):04X}")
    return text


def _line(value: object) -> object:
    return _clean(value, keep_newlines=False)


def _lines(value: object) -> object:
    if isinstance(value, str):
        value = value.replace("\r\n", "\n")
    return _clean(value, keep_newlines=True)


# the constraints first, so the cleaning runs before them and a too long text is told so
# in characters (after a validator, pydantic would check a generic length in "items")
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX), BeforeValidator(_line)]
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=SHORT_TEXT_MAX), BeforeValidator(_line)
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX), BeforeValidator(_lines)]

# separators people write numbers with; anything else in a phone number is refused
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# two-digit area codes: 10 (Beijing) and 2x; the rest have three digits (Chinese numbering plan)
_LANDLINE = re.compile(r"0(10|2\d|[3-9]\d{2})(\d{7,8})")


def normalise_phone(value: str) -> str:
    """`13812345678` for a mobile, `010-12345678` for a landline; ValueError otherwise."""
    if len(value) > PHONE_INPUT_MAX:
        raise ValueError(f"a phone number has at most {PHONE_INPUT_MAX} characters")
    text = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    international = False
    if text.startswith("+86"):
        text, international = text[3:], True
    elif text.startswith("0086"):
        text, international = text[4:], True
    elif text.startswith("86") and len(text) == 13:
        text, international = text[2:], True
    if text.startswith("+"):
        raise ValueError("not a Chinese number: the only country code taken is +86")
    if not text.isascii() or not text.isdigit():
        raise ValueError("a phone number has only digits, +86 and separators")
    if _MOBILE.fullmatch(text):
        return text
    # from abroad a landline drops its trunk 0 (+86 10 1234 5678); some keep it anyway
    national = f"0{text}" if international and not text.startswith("0") else text
    landline = _LANDLINE.fullmatch(national)
    if landline:
        area, number = landline.groups()
        return f"0{area}-{number}"
    raise ValueError("not a Chinese mobile (1xx xxxx xxxx) or landline (0xx-xxxxxxxx) number")


def _phone(value: object) -> object:
    return normalise_phone(value) if isinstance(value, str) else value


PhoneNumber = Annotated[str, BeforeValidator(_phone)]


def normalise_email(value: str) -> str:
    """One e-mail address, normalised; ValueError for anything else (a list, a display
    name, a line break, a quoted local part)."""
    if len(value) > EMAIL_MAX:
        raise ValueError(f"an e-mail address has at most {EMAIL_MAX} characters")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a single e-mail address: {exc}") from None
    return str(checked.normalized)


def _email(value: object) -> object:
    return normalise_email(value) if isinstance(value, str) else value


EmailAddress = Annotated[str, BeforeValidator(_email)]


Kilograms = Annotated[float, Field(ge=0, le=KG_MAX)]
# a quantity whose sign a service's rules check, to refuse a negative one with its own
# reason (enterprise: negative_quantity); only its size is bounded here
SignedKilograms = Annotated[float, Field(ge=-KG_MAX, le=KG_MAX)]
Yuan = Annotated[int, Field(ge=0, le=YUAN_MAX)]
Age = Annotated[int, Field(ge=0, le=AGE_MAX)]
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]


def _in_window(value: datetime) -> datetime:
    if not FIRST_DAY <= value.astimezone(UTC).date() <= LAST_DAY:
        raise ValueError(f"a time between {FIRST_DAY} and {LAST_DAY}")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_in_window)]


def bounded(max_items: int = LIST_MAX) -> object:
    """`Annotated[list[X], bounded(18)]`: at most that many entries."""
    return Field(max_length=max_items)


def _once_each(keys: list[Any], what: str) -> None:
    # the values are already bounded, so naming the repeated one stays short
    repeated = [key for key, count in Counter(keys).items() if count > 1]
    if repeated:
        raise ValueError(f"lists the same {what} twice: {str(repeated[0])!r}")


def _distinct(values: list[T]) -> list[T]:
    plain = all(isinstance(v, str | int | float | date) for v in values)
    _once_each(values if plain else [repr(v) for v in values], "entry")
    return values


Distinct = AfterValidator(_distinct)


def distinct_by(key: str) -> AfterValidator:
    """Refuses a list of parts two of which have the same `key` (two storage entries for
    one CAS number)."""

    def check(values: list[T]) -> list[T]:
        _once_each([getattr(v, key) for v in values], key)
        return values

    return AfterValidator(check)
