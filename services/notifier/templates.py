"""Message texts in Simplified Chinese (default) and English, short enough for an SMS.

A template is a title (the e-mail subject) and a text per language; parameters are the
raw values a rule took from the cause, localised here by their name: `*_kg` become
tonnes or kilograms, `*_ref` a short reference, `*_date` a date, codes (reasons,
services, topics) words; `x_zh`/`x_en` pairs give `x` in the recipient's language.
An SMS segment holds 70 characters when any character is outside the GSM 7-bit
alphabet (any Chinese text), else 160; a longer message is sent in parts of 67 or 153.
"""

# Chinese text is written with full-width commas and brackets, on purpose
# ruff: noqa: RUF001

import math
import re
from collections.abc import Mapping

from services.notifier.messages import Language, Template

ParamValue = str | float | list[str]
Params = Mapping[str, ParamValue]

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
        "{requester_name}您好，{service}已预约{appointment_date}上门办理，地址{address}。",
        "{requester_name}, {service} is booked at home on {appointment_date}, address {address}.",
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


def signature(language: Language, zh: str, en: str) -> str:
    return f"【{zh}】" if language == "zh" else f"[{en}] "


def quantity(kg: float, language: Language) -> str:
    """10000 kg is `10吨` / `10 t`; below a tonne, kilograms."""
    if kg >= 1000:
        value, unit = kg / 1000, ("吨", " t")
    else:
        value, unit = kg, ("千克", " kg")
    number = f"{value:.3f}".rstrip("0").rstrip(".")
    return number + unit[0 if language == "zh" else 1]


def short_ref(value: str) -> str:
    """Ids the services mint (uuids) are cut to their first 8 characters in an SMS;
    ids chosen by people are kept whole."""
    return value[:8] if _UUID.match(value) else value


def word(code: str, language: Language) -> str:
    found = WORDS.get(code)
    return code if found is None else found[0 if language == "zh" else 1]


def _localised(name: str, value: ParamValue, language: Language) -> str:
    if isinstance(value, list):
        return ("、" if language == "zh" else ", ").join(word(str(v), language) for v in value)
    if name.endswith("_kg"):
        return quantity(float(value), language)
    text = str(value)
    if name.endswith("_ref"):
        return short_ref(text)
    if name.endswith("_date"):
        return text[:10]
    if name in CODED:
        return word(text, language)
    return text


def localised(params: Params, language: Language) -> dict[str, str]:
    """Every parameter as the recipient reads it; `x_zh`/`x_en` become `x`."""
    values: dict[str, str] = {}
    index = 0 if language == "zh" else 1
    for name, value in params.items():
        if name.endswith(("_zh", "_en")):
            base = name[:-3]
            pair = (params.get(f"{base}_zh"), params.get(f"{base}_en"))
            chosen = pair[index] or pair[1 - index]
            values[base] = str(chosen) if chosen else UNKNOWN[index]
            continue
        values[name] = _localised(name, value, language)
    return values


class _Missing(dict[str, str]):
    def __init__(self, values: Mapping[str, str], language: Language) -> None:
        super().__init__(values)
        self.unknown = UNKNOWN[0 if language == "zh" else 1]

    def __missing__(self, key: str) -> str:
        return self.unknown


def render(
    template: Template,
    params: Params,
    language: Language,
    *,
    signature_zh: str = "县公安局",
    signature_en: str = "County Police",
) -> tuple[str, str]:
    """The (title, text) of a template for one recipient; a missing parameter reads
    `未知` / `unknown` rather than failing the notification."""
    index = 0 if language == "zh" else 1
    body = TEXTS[template][index].format_map(_Missing(localised(params, language), language))
    return TITLES[template][index], signature(language, signature_zh, signature_en) + body


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
