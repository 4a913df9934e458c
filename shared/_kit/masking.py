# ruff: noqa: RUF001 - full-width digits and brackets are what is matched here
"""Residents' data masked before anything is written: log lines, tracebacks, DLQ reasons.

On each field of a log line, before it is rendered (`mask_fields`), at any depth:
- by the field's name: names of persons and parties, addresses, free texts, phones,
  e-mail addresses, ages and household risk flags (the contract's personal fields);
- by shape, in every other text (`mask_text`): phone numbers in every usual spelling
  (+86, 0086, separators, full-width digits, landlines with or without brackets) and
  ID-card numbers (18 characters, and the old 15-digit ones).
A traceback is a field like the others; one drawn by the console renderer is masked by
shape after rendering (`mask_rendered`). Masking a line costs a few microseconds: most
texts are rejected by one search for seven digits in a row, run in C.

Masked, not dropped: an operator still tells `138****5678` from `139****0000`, `张*` from
`李*`, and sees that an address was there (`浙江省…(masked)`). An enterprise's name or a
chemical's is not personal and stays.
"""

import re
from collections.abc import Callable, Mapping, MutableMapping
from functools import lru_cache
from typing import Any, Final, Literal

MASKED: Final = "…(masked)"

# any decimal digit, ASCII or full-width (`\d` is Unicode-aware); a separator people
# write numbers with (space, hyphen and its Unicode cousins, dot), at most one in a row
_S = r"[\s\-.\u2010-\u2015\uff0d\uff0e]?"
_ONE, _ZERO, _THREE_TO_NINE = "[1１]", "[0０]", "[3-9３-９]"
_PLUS86 = r"(?:(?:[+＋]|[0０]{2})\s?)?[8８][6６][\s\-]?"
# ids minted by the services are uuids: consumed whole, so no digits inside one are taken
# for a phone number (`…-a138-1234-5678-…`)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_MONTH = r"(?:[0０][1-9１-９]|[1１][0-2０-２])"
_DAY = r"(?:[0０][1-9１-９]|[12１２]\d|[3３][01０１])"
_ID18 = (
    rf"(?P<id18a>[1-9１-９]\d{{5}})\s?(?:[1１][89８９]|[2２][0０])\d\d{_MONTH}{_DAY}"
    r"\s?(?P<id18b>\d{3}[\dXxＸｘ])"
)
_ID15 = rf"(?P<id15a>[1-9１-９]\d{{5}})\d\d{_MONTH}{_DAY}(?P<id15b>\d{{3}})"
_MOBILE = rf"(?P<mp>{_PLUS86})?(?P<m1>{_ONE}{_THREE_TO_NINE}\d){_S}\d{{4}}{_S}(?P<m2>\d{{4}})"
# area codes: 10 and 2x have two digits after the trunk 0, the rest three; from abroad
# the trunk 0 is left out (+86 10 1234 5678)
_AREA = rf"(?:{_ONE}{_ZERO}|[2２]\d|{_THREE_TO_NINE}\d\d)"
_LANDLINE = (
    rf"(?P<lp>{_PLUS86}{_ZERO}?|[(（]{_ZERO}|{_ZERO})(?P<la>{_AREA})(?:[)）]\s?|{_S})"
    rf"\d{{3,4}}{_S}(?P<l4>\d{{4}})"
)
_SHAPES = re.compile(rf"(?<!\d)(?:{_UUID}|{_ID18}|{_ID15}|{_MOBILE}|{_LANDLINE})(?!\d)")
# every shape above has seven digits in a row, give or take single separators: a search
# for that runs in C over the line, the shapes' own search only where it succeeds
_CANDIDATE = re.compile(r"\d(?:[\s\-.\u2010-\u2015\uff0d\uff0e()（）]?\d){6}")
_ASCII_DIGITS = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789xX")


def _masked_shape(match: re.Match[str]) -> str:
    found = match.groupdict()
    if found["m1"] is not None:
        prefix = "+86 " if found["mp"] else ""
        return f"{prefix}{found['m1']}****{found['m2']}".translate(_ASCII_DIGITS)
    if found["la"] is not None:
        # from abroad: +86 and the area code without its trunk 0
        area = f"+86 {found['la']}" if found["lp"].strip("(（0０") else f"0{found['la']}"
        return f"{area}-****{found['l4']}".translate(_ASCII_DIGITS)
    if found["id18a"] is not None:
        return f"{found['id18a']}********{found['id18b']}".translate(_ASCII_DIGITS)
    if found["id15a"] is not None:
        return f"{found['id15a']}******{found['id15b']}".translate(_ASCII_DIGITS)
    return match.group(0)  # a uuid, as it was


def mask_text(text: str) -> str:
    """Phone and ID-card numbers in `text` masked (`138****5678`, `010-****5678`,
    `330102********1234`); everything else as it was (the same object)."""
    if len(text) < _SHORTEST:
        return text
    if len(text) >= _UUID_LENGTH and _UUID_AT_END.match(text, len(text) - _UUID_LENGTH):
        # an id ending in a uuid (`visit-3f2a…`), the commonest value in a log line
        head = text[:-_UUID_LENGTH]
        masked_head = mask_text(head)
        return text if masked_head is head else masked_head + text[-_UUID_LENGTH:]
    if _CANDIDATE.search(text) is None:
        return text
    masked = _SHAPES.sub(_masked_shape, text)
    return text if masked == text else masked


_UUID_LENGTH = 36
_UUID_AT_END = re.compile(rf"{_UUID}\Z")
_SHORTEST = 7  # digits in the shortest shape (a landline's local number)


# --- by field name --------------------------------------------------------------------

Kind = Literal["name", "people", "text", "phone", "email", "id_number", "age", "flag"]
_NAMES = {
    "name",
    "party",
    "volunteer_name",
    "mediator_name",
    "officer_name",
    "contact_name",
    "requester_name",
    "person_name",
    "party_name",
    "resident_name",
    "member_name",
    "recipient_name",
    "applicant_name",
    "respondent_name",
    "issued_by",
    "to",
}
# a person record, a list of them, or a bare name: what a name field would get
_PEOPLE = {
    "parties",
    "members",
    "member",
    "contact",
    "requested_by",
    "person",
    "liaison_officer",
    "requester",
    "resident",
    "residents",
}
_TEXTS = {
    "address",
    "description",
    "notes",
    "note",
    "text",
    "body",
    "obligation",
    "fire_hazard",
}
_KINDS: Mapping[str, Kind] = {
    **dict.fromkeys(_NAMES, "name"),
    **dict.fromkeys(_PEOPLE, "people"),
    **dict.fromkeys(_TEXTS, "text"),
    **dict.fromkeys(("phone", "mobile", "tel", "telephone"), "phone"),
    **dict.fromkeys(("email", "mail", "email_address"), "email"),
    **dict.fromkeys(("id_number", "id_card", "id_card_number", "identity_number"), "id_number"),
    "age": "age",
    "lives_alone_elderly": "flag",
    "prior_fraud_victim": "flag",
    "mobility_impaired": "flag",
}
# in a record of an enterprise (it has an `enterprise_id`), `name` is the enterprise's
_ENTERPRISE = "enterprise_id"


@lru_cache(maxsize=4096)  # keys can come from an event's data: bounded
def kind_of(key: str) -> Kind | None:
    """What a field holds, by its name; None when it is not personal."""
    kind = _KINDS.get(key)
    if kind is not None:
        return kind
    for suffix, by_suffix in (
        ("_phone", "phone"),
        ("_mobile", "phone"),
        ("_email", "email"),
        ("_address", "text"),
    ):
        if key.endswith(suffix):
            return by_suffix  # type: ignore[return-value]
    return None


def mask_name(name: str) -> str:
    """`张*`, `欧阳**`→`欧**`: the first character, a star for each of the rest (at most 3)."""
    return name[:1] + "*" * min(len(name) - 1, 3) if len(name) > 1 else "*"


def mask_free_text(text: str) -> str:
    """`浙江省…(masked)`: the first few characters (a province, a street's start)."""
    return text[: min(3, len(text) // 2)] + MASKED


def mask_phone(phone: str) -> str:
    """A phone by its field: masked by shape if it has one, else all but its ends."""
    masked = mask_text(phone)
    if masked != phone:
        return masked
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "****"


def mask_email(address: str) -> str:
    """`z***@example.com`: the domain says which provider, not whose mailbox."""
    local, at, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if at else mask_free_text(address)


_STRING_MASKS: Mapping[Kind, Callable[[str], str]] = {
    "name": mask_name,
    "people": mask_name,
    "text": mask_free_text,
    "phone": mask_phone,
    "id_number": mask_phone,
    "email": mask_email,
}


def _masked_value(kind: Kind, value: Any, record: Mapping[str, Any] | None) -> Any:
    if isinstance(value, str):
        return _STRING_MASKS.get(kind, _starred)(value)
    if isinstance(value, bool):
        return "*" if kind == "flag" else value
    if kind == "age" and isinstance(value, int):
        return f"{value // 10 * 10}s"
    if isinstance(value, list | tuple):
        return [_masked_value(kind, item, None) for item in value]
    return _masked(None, value, record)


def _starred(_value: str) -> str:
    return "*"


def _masked(key: object, value: Any, record: Mapping[str, Any] | None) -> Any:
    """`value` with what is personal in it masked: by its field's name, else by shape."""
    kind = kind_of(key) if isinstance(key, str) else None
    if key == "name" and record is not None and _ENTERPRISE in record:
        kind = None
    if kind is not None:
        return _masked_value(kind, value, record)
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _masked(k, v, value) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(None, item, record) for item in value]
    return _masked_scalar(value)


def _masked_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        # a number long enough to be a phone or ID number is checked as one
        return value if -_SHORT < value < _SHORT else _masked_number(value)
    # anything else is written as its repr (structlog's JSON and console renderers alike)
    return mask_text(repr(value))


_SHORT = 1_000_000


def _masked_number(value: int) -> int | str:
    masked = mask_text(str(value))
    return value if masked == str(value) else masked


# added by structlog itself, or by the standard library's bridge (removed before
# rendering); an exception the renderer formats itself (it is masked after rendering)
_OURS = frozenset(
    {"timestamp", "level", "logger", "_record", "_from_structlog", "exc_info", "stack_info"}
)


def mask_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor, before the renderer: personal fields masked by their names,
    and phone and ID numbers by their shape, at any depth (in new containers: the
    caller's data stays as it was)."""
    for key, value in event_dict.items():
        if key in _OURS:
            continue
        if type(value) is str and kind_of(key) is None:
            masked = mask_text(value)
        else:
            masked = _masked(key, value, event_dict)
        if masked is not value:
            event_dict[key] = masked
    return event_dict


def mask_rendered(_logger: Any, _method: str, line: Any) -> Any:
    """structlog processor, after a console renderer: what it added (a traceback drawn
    from the exception itself) goes through the same masking by shape."""
    return mask_text(line) if isinstance(line, str) else line
