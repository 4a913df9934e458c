"""Message texts in Simplified Chinese (default) and English, short enough for an SMS.

Every text the station signs comes from a template here; nothing a command wrote goes
into it as it was written. A template is a title (the e-mail subject) and a text per
language; parameters are the values a rule took from the cause, each cleaned and capped
by its name (`clean`) before it is stored and again before it is written:

- `*_name`, `chemical_*`: a person's, an enterprise's or a chemical's name: NFKC, letters,
  digits, spaces and a few marks only (no dots, slashes, colons or `@`, so no link or
  address survives), no digits at all when it holds more than four (no phone number),
  at most `NAME_CAPS` characters;
- `*_ref`, `block`: an id, in ASCII letters, digits, `-` and `_`, at most 24 characters
  (uuids the services mint cut to 8), never a phone number;
- `*_date`: `YYYY-MM-DD` or nothing; `*_kg` and counts: numbers;
- codes (`reason`, `referred_to`, `service`, a list of topics): words from `WORDS`, an
  unknown code reads `未知` / `unknown`, a list at most `LIST_CAP` of them.

An SMS segment holds 70 characters when any character is outside the GSM 7-bit alphabet
(any Chinese text), else 160; a longer message is sent in parts of 67 or 153. A rendered
text is at most `MAX_SEGMENTS` parts: past that its names and lists are shortened, never
the template's own words.
"""

# Chinese text is written with full-width commas and brackets, on purpose
# ruff: noqa: RUF001

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Final

from services.notifier.messages import Language, Template

ParamValue = str | int | float | list[str]
Params = Mapping[str, ParamValue]

MAX_SEGMENTS: Final = 3
NAME_CAP: Final = 20
NAME_CAPS: Final = {"enterprise_name": 24, "chemical_zh": 24, "chemical_en": 32}
REF_CAP: Final = 24
LIST_CAP: Final = 3
# a name may carry a house number or a "3rd plant"; more digits than this may be a phone
NAME_DIGITS_MAX: Final = 4
# numbers past this are written in scientific notation (a forged 1e300 stays short)
NUMBER_MAX: Final = 1e12

TITLES: dict[Template, tuple[str, str]] = {
    "over_capacity_officer": ("超量预警", "Over-capacity alert"),
    "over_capacity_brigade": ("危化品超量预警", "Hazardous chemical over capacity"),
    "transfer_proposed": ("调剂提议", "Transfer proposed"),
    "redistribution_escalated": ("调剂升级", "Redistribution escalated"),
    "mediator_assigned": ("调解指派", "Mediation case assigned"),
    "session_overdue": ("调解超期", "Mediation session overdue"),
    "case_escalated": ("调解升级", "Mediation case escalated"),
    "visit_assigned": ("走访任务", "Home visit assigned"),
    "coverage_gap": ("走访缺口", "Visits without a volunteer"),
    "home_service_scheduled": ("上门服务预约", "Home service booked"),
    "held_summary": ("通知汇总", "Notifications held"),
}

TEXTS: dict[Template, tuple[str, str]] = {
    "over_capacity_officer": (
        "{enterprise_name}{chemical}库存{stock_kg}，许可{capacity_kg}，超出{surplus_kg}，"
        "请尽快核查处置。",
        "{enterprise_name} holds {stock_kg} of {chemical}, permitted {capacity_kg}: "
        "{surplus_kg} over. Please check.",
    ),
    "over_capacity_brigade": (
        "{enterprise_name}{chemical}超出许可{surplus_kg}（库存{stock_kg}），"
        "联络民警{officer_name}。",
        "{enterprise_name} is {surplus_kg} over its permit for {chemical} "
        "(stock {stock_kg}). Liaison officer: {officer_name}.",
    ),
    "transfer_proposed": (
        "拟向贵单位调剂{chemical}，数量{quantity_kg}（单号{transfer_ref}），请及时回复接受或拒绝。",
        "Proposed transfer of {quantity_kg} of {chemical} to you (ref {transfer_ref}). "
        "Please accept or decline.",
    ),
    "redistribution_escalated": (
        "企业{enterprise_ref}的{chemical}尚有{unallocated_kg}无法调剂（{reason}），"
        "请危化品大队处置。",
        "{unallocated_kg} of {chemical} at {enterprise_ref} could not be placed "
        "({reason}). Brigade action needed.",
    ),
    "mediator_assigned": (
        "{mediator_name}您好，调解案件{case_ref}已指派给您，请尽快联系当事人。",
        "{mediator_name}, mediation case {case_ref} is assigned to you. "
        "Please contact the parties.",
    ),
    "session_overdue": (
        "调解案件{case_ref}（{opened_date}立案）超时未调解，请值班台督办。",
        "Mediation case {case_ref} (opened {opened_date}) has no session yet. Please follow up.",
    ),
    "case_escalated": (
        "调解案件{case_ref}因{reason}升级，移交{referred_to}，请值班台跟进。",
        "Mediation case {case_ref} escalated ({reason}), referred to {referred_to}.",
    ),
    "visit_assigned": (
        "{volunteer_name}您好，请于{due_date}前走访{block}住户{household_ref}，宣传{topics}。",
        "{volunteer_name}, please visit household {household_ref} in {block} by "
        "{due_date}: {topics}.",
    ),
    "coverage_gap": (
        "活动{campaign_ref}在{block}有{households}户无志愿者可派，请值班台协调。",
        "Campaign {campaign_ref}: {households} households in {block} have no volunteer. "
        "Please arrange.",
    ),
    "home_service_scheduled": (
        "{requester_name}您好，{service}已预约{appointment_date}上门办理（单号{request_ref}），"
        "届时民警将到登记地址。",
        "{requester_name}, {service} is booked at home on {appointment_date} "
        "(ref {request_ref}); an officer will come to the registered address.",
    ),
    "held_summary": (
        "另有{count}条通知因一小时内发送过多未单独发送，请登录工作台查看。",
        "{count} more notifications were held (too many within an hour). "
        "Please check the station's workbench.",
    ),
}

WORDS: dict[str, tuple[str, str]] = {
    # redistribution_escalated reasons
    "no_eligible_recipient": ("无合适接收企业", "no eligible recipient"),
    "declined": ("接收企业拒绝", "declined"),
    "expired": ("接收企业逾期未复", "no answer in time"),
    # case_escalated reasons and referrals
    "no_mediator_available": ("无可用调解员", "no mediator available"),
    "no_agreement": ("多次调解未达成协议", "no agreement"),
    "obligation_breached": ("协议未履行", "obligation breached"),
    "overdue": ("超期未调解", "overdue"),
    "court": ("法院", "the court"),
    "police": ("公安机关", "the police"),
    "station": ("派出所", "the station"),
    # home services
    "id_card_replacement": ("身份证补办", "ID card replacement"),
    "id_card_renewal": ("身份证换领", "ID card renewal"),
    "residence_registration": ("户籍登记", "residence registration"),
    # visit topics and fraud schemes
    "telecom_fraud": ("防电信诈骗", "telecom fraud"),
    "elderly_care_fraud": ("防养老诈骗", "elderly-care fraud"),
    "fire_safety": ("消防安全", "fire safety"),
    "traffic_safety": ("交通安全", "traffic safety"),
    "dispute_screening": ("矛盾排查", "dispute screening"),
    "impersonate_official_order": ("冒充官方订货诈骗", "fake official orders"),
    "impersonate_police_procuratorate": ("冒充公检法诈骗", "fake police calls"),
    "elderly_care_investment": ("养老投资诈骗", "elderly-care investment"),
    "fake_refund": ("虚假退款诈骗", "fake refunds"),
    "fake_loan": ("虚假贷款诈骗", "fake loans"),
    "part_time_click_farming": ("刷单诈骗", "click farming"),
}
CODED = frozenset({"reason", "referred_to", "service"})
UNKNOWN = ("未知", "unknown")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_CAS = re.compile(r"^CAS \d{2,7}-\d{2}-\d$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_REF_DROPPED = re.compile(r"[^A-Za-z0-9_-]")
# a mobile (with or without 86) or a landline with its area code, digits only
_PHONE_DIGITS = re.compile(r"(?:0{0,2}86)?1[3-9]\d{9}|0[1-9]\d{8,10}|0{0,2}86[1-9]\d{8,10}")
_SPACES = re.compile(r"\s+")
# a run of digits, with the separators people write phone numbers with
_DIGITS = re.compile(r"\d[\d\s-]*\d|\d")
# marks a name may keep besides letters, digits and spaces (middle dots, hyphens, brackets)
_NAME_MARKS = frozenset("·・-'’()（）&")


def signature(language: Language, zh: str, en: str) -> str:
    return f"【{zh}】" if language == "zh" else f"[{en}] "


def quantity(kg: float, language: Language) -> str:
    """10000 kg is `10吨` / `10 t`; below a tonne, kilograms."""
    if kg >= 1000:
        value, unit = kg / 1000, ("吨", " t")
    else:
        value, unit = kg, ("千克", " kg")
    return number(value) + unit[0 if language == "zh" else 1]


def number(value: float) -> str:
    """Up to three decimals, no trailing zeros; beyond NUMBER_MAX in scientific notation."""
    try:
        if not math.isfinite(value):
            return "-"
    except OverflowError:  # an int too large for a float
        return "-"
    if abs(value) >= NUMBER_MAX:
        return f"{value:.3g}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def short_ref(value: str) -> str:
    """Ids the services mint (uuids) are cut to their first 8 characters in an SMS;
    ids chosen by people are kept whole (up to REF_CAP)."""
    return value[:8] if _UUID.match(value) else value


def capped(text: str, cap: int) -> str:
    """At most `cap` characters, an ellipsis marking a cut."""
    return text if len(text) <= cap else text[: max(0, cap - 1)] + "…"


def clean_name(value: str, cap: int = NAME_CAP) -> str:
    """A name as an SMS may carry it: letters, digits (at most NAME_DIGITS_MAX of them),
    spaces and a few marks; no control character, no link, no phone number."""
    text = unicodedata.normalize("NFKC", value[: cap * 8])
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "LMN" or char in _NAME_MARKS:
            kept.append(char)
        elif category[0] == "Z" or char in "\t\n\r":
            kept.append(" ")
        # anything else is dropped: dots, slashes, colons and `@` (links and addresses),
        # 【】 and [] (a second signature), control and format characters
    text = "".join(kept)
    if sum(c.isdigit() for c in text) > NAME_DIGITS_MAX:
        text = _DIGITS.sub("", text)
    return capped(_SPACES.sub(" ", text).strip(), cap)


def _phone_like(text: str) -> bool:
    """Whether the digits of a text, read together, are a Chinese phone number."""
    return _PHONE_DIGITS.fullmatch("".join(c for c in text if c.isdigit())) is not None


def clean_ref(value: str) -> str:
    """An id as an SMS may carry it: ASCII letters, digits, `-` and `_`; a phone number
    written as an id is dropped."""
    text = short_ref(_REF_DROPPED.sub("", value[: REF_CAP * 4]))
    if _phone_like(text):
        return "-"
    return capped(text, REF_CAP) or "-"


def clean_code(value: str) -> str:
    """A code (a reason, a service, a topic): kept if shaped like one, else empty."""
    return value if _CODE.match(value) else ""


def clean(name: str, value: ParamValue) -> ParamValue:
    """One parameter, cleaned and capped by its name (see the module's docstring); what
    is stored with a notification and what its texts are written from."""
    if isinstance(value, list):
        return [clean_code(str(v)) for v in value[: LIST_CAP + 1]]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value if number(value) != "-" else 0
    return _clean_text(name, str(value))


def _clean_text(name: str, text: str) -> str:
    if name.endswith("_kg"):
        return text[:32]
    if name.endswith("_ref") or name == "block":
        return clean_ref(text)
    if name.endswith("_date"):
        found = _DATE.match(text)
        return found.group() if found else ""
    if name in CODED:
        return clean_code(text)
    if name.startswith("chemical_") and _CAS.match(text):
        return text
    return clean_name(text, NAME_CAPS.get(name, NAME_CAP))


def cleaned(params: Params) -> dict[str, ParamValue]:
    """Every parameter cleaned and capped (`clean`)."""
    return {name: clean(name, value) for name, value in params.items()}


def word(code: str, language: Language) -> str:
    """A code in the recipient's language; one the catalogue lacks reads `未知`."""
    found = WORDS.get(code)
    index = 0 if language == "zh" else 1
    return UNKNOWN[index] if found is None else found[index]


def _words(codes: list[str], language: Language) -> str:
    shown = [word(c, language) for c in codes[:LIST_CAP]]
    more = len(codes) > LIST_CAP
    if language == "zh":
        return "、".join(shown) + ("等" if more else "")
    return ", ".join(shown) + (" etc." if more else "")


def _localised(name: str, value: ParamValue, language: Language) -> str:
    value = clean(name, value)
    if isinstance(value, list):
        return _words(value, language)
    if name.endswith("_kg"):
        try:
            kg = float(value)
        except (ValueError, OverflowError):
            return UNKNOWN[0 if language == "zh" else 1]
        return quantity(kg, language)
    if isinstance(value, int | float):
        return number(value)
    if name in CODED:
        return word(value, language)
    return value or ("-" if name.endswith(("_ref", "_date")) or name == "block" else "")


def localised(params: Params, language: Language) -> dict[str, str]:
    """Every parameter as the recipient reads it; `x_zh`/`x_en` become `x`."""
    values: dict[str, str] = {}
    index = 0 if language == "zh" else 1
    for name, value in params.items():
        if name.endswith(("_zh", "_en")):
            base = name[:-3]
            pair = [
                _localised(f"{base}_{lang}", params.get(f"{base}_{lang}") or "", lang)
                for lang in ("zh", "en")
            ]
            values[base] = pair[index] or pair[1 - index] or UNKNOWN[index]
            continue
        values[name] = _localised(name, value, language)
    return values


class _Missing(dict[str, str]):
    def __init__(self, values: Mapping[str, str], language: Language) -> None:
        super().__init__(values)
        self.unknown = UNKNOWN[0 if language == "zh" else 1]

    def __missing__(self, key: str) -> str:
        return self.unknown


def _shrinkable(name: str) -> bool:
    return not (name.endswith(("_kg", "_date")) or name in CODED or name == "count")


def render(
    template: Template,
    params: Params,
    language: Language,
    *,
    signature_zh: str = "县公安局",
    signature_en: str = "County Police",
    max_segments: int = MAX_SEGMENTS,
) -> tuple[str, str]:
    """The (title, text) of a template for one recipient; a missing parameter reads
    `未知` / `unknown` rather than failing the notification. A text past `max_segments`
    SMS parts has its longest name or list shortened until it fits."""
    index = 0 if language == "zh" else 1
    values = localised(params, language)
    head = signature(language, signature_zh, signature_en)

    def text() -> str:
        return head + TEXTS[template][index].format_map(_Missing(values, language))

    written = text()
    while sms_segments(written) > max_segments:
        longest = max(
            (n for n in values if _shrinkable(n) and len(values[n]) > 1),
            key=lambda n: len(values[n]),
            default=None,
        )
        if longest is None:
            break
        length = len(values[longest])
        values[longest] = capped(values[longest], max(1, length - max(1, length // 4)))
        written = text()
    return TITLES[template][index], written


# GSM 03.38 basic character set (one septet each) and its extension table (two each)
_GSM = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> int:
    """How many SMS parts a text needs: 70 (UCS-2) or 160 (GSM 7-bit) characters for
    one part, 67 or 153 per part when it is split."""
    if all(c in _GSM or c in _GSM_EXTENDED for c in text):
        septets = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return 1 if units <= 70 else math.ceil(units / 67)
