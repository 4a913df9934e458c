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
"""

import re
import unicodedata
from typing import Annotated, Final, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

T = TypeVar("T")

ID_MAX: Final = 64
NAME_MAX: Final = 64
SHORT_TEXT_MAX: Final = 200
TEXT_MAX: Final = 2000
PHONE_INPUT_MAX: Final = 32
EMAIL_MAX: Final = 254
# how many entries a list in a command may have, unless its field says otherwise
LIST_MAX: Final = 100

Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"),
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


Name = Annotated[str, BeforeValidator(_line), StringConstraints(min_length=1, max_length=NAME_MAX)]
ShortText = Annotated[
    str, BeforeValidator(_line), StringConstraints(min_length=1, max_length=SHORT_TEXT_MAX)
]
Text = Annotated[str, BeforeValidator(_lines), StringConstraints(min_length=1, max_length=TEXT_MAX)]

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


def bounded(max_items: int = LIST_MAX) -> object:
    """`Annotated[list[X], bounded(18)]`: at most that many entries."""
    return Field(max_length=max_items)


def _distinct(values: list[T]) -> list[T]:
    if len(set(map(repr, values))) != len(values):
        raise ValueError("lists the same entry twice")
    return values


Distinct = AfterValidator(_distinct)
