"""Pure parts of the notifier: texts and SMS segments, what a field may carry into a
text the police sign, quiet hours, backoff, settings."""

# the messages are Chinese, written with full-width commas and brackets
# ruff: noqa: RUF001

from datetime import UTC, datetime, time, timedelta, timezone
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from services.notifier.domain import RetryPolicy, quiet_until
from services.notifier.messages import Template
from services.notifier.settings import SIGNATURE_MAX, NotifierSettings
from services.notifier.templates import (
    MAX_SEGMENTS,
    TEXTS,
    WORDS,
    clean,
    quantity,
    render,
    short_ref,
    sms_segments,
)
from shared._kit.settings import SettingsError

SHANGHAI = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))
# the seed stories' values, as the rules pass them
SEED: dict[str, dict[str, str | float | list[str]]] = {
    "over_capacity_officer": {
        "enterprise_name": "丽水合成革有限公司",
        "chemical_zh": "丁酮",
        "chemical_en": "butanone",
        "stock_kg": 30_000,
        "capacity_kg": 20_000,
        "surplus_kg": 10_000,
    },
    "over_capacity_brigade": {
        "enterprise_name": "丽水合成革有限公司",
        "chemical_zh": "丁酮",
        "chemical_en": "butanone",
        "stock_kg": 30_000,
        "surplus_kg": 10_000,
        "officer_name": "吕警官",
    },
    "transfer_proposed": {
        "chemical_zh": "CAS 78-93-3",
        "chemical_en": "CAS 78-93-3",
        "quantity_kg": 6_000,
        "transfer_ref": "6f0e2a4c-93b1-5d3e-8c57-2b1f0d5a9e11",
    },
    "redistribution_escalated": {
        "enterprise_ref": "ent-leather-01",
        "chemical_zh": "CAS 78-93-3",
        "chemical_en": "CAS 78-93-3",
        "unallocated_kg": 2_500,
        "reason": "no_eligible_recipient",
    },
    "mediator_assigned": {"mediator_name": "吕调解员", "case_ref": "case-2026-0042"},
    "session_overdue": {"case_ref": "case-2026-0042", "opened_date": "2026-06-03T09:30:00+08:00"},
    "case_escalated": {
        "case_ref": "case-2026-0042",
        "reason": "obligation_breached",
        "referred_to": "court",
    },
    "visit_assigned": {
        "volunteer_name": "王芳",
        "due_date": "2026-06-05",
        "block": "block-07",
        "household_ref": "hh-0712",
        "topics": ["telecom_fraud", "elderly_care_fraud"],
    },
    "coverage_gap": {"campaign_ref": "camp-2026-07", "block": "block-07", "households": 12},
    "home_service_scheduled": {
        "requester_name": "陈先生",
        "service": "id_card_replacement",
        "appointment_date": "2026-06-05",
        "request_ref": "req-2026-0601",
    },
    "held_summary": {"count": 4},
}


def test_every_template_has_both_languages_and_seed_values() -> None:
    assert set(TEXTS) == set(get_args(Template)) == set(SEED)


@pytest.mark.parametrize("template", sorted(SEED))
def test_each_chinese_message_of_the_seed_stories_fits_one_sms(template: Template) -> None:
    _title, text = render(template, SEED[template], "zh")

    assert text.startswith("【县公安局】")
    assert "未知" not in text, "every parameter is filled"
    assert len(text) <= 70
    assert sms_segments(text) == 1


@pytest.mark.parametrize("template", sorted(SEED))
def test_each_english_message_is_plain_ascii_when_its_values_are(template: Template) -> None:
    ascii_values = {
        k: v
        for k, v in SEED[template].items()
        if not isinstance(v, str) or v.isascii() or k.endswith("_zh")
    }
    _title, text = render(template, ascii_values, "en")

    assert text.startswith("[County Police] ")
    assert sms_segments(text) == 1


def test_segments_are_70_chinese_or_160_latin_characters_then_67_or_153_per_part() -> None:
    assert [sms_segments("警" * n) for n in (1, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]
    assert [sms_segments("a" * n) for n in (160, 161, 306, 307)] == [1, 2, 2, 3]
    assert sms_segments("a" * 159 + "€") == 2, "an extension character takes two septets"
    assert sms_segments("a" * 100 + "é") == 1, "é is in the GSM alphabet"
    assert sms_segments("a" * 100 + "吨") == 2, "one Chinese character makes it UCS-2"


def test_values_are_written_as_people_read_them() -> None:
    assert [quantity(kg, "zh") for kg in (10_000, 2_500, 500, 0.25)] == [
        "10吨",
        "2.5吨",
        "500千克",
        "0.25千克",
    ]
    assert quantity(10_000, "en") == "10 t"
    assert short_ref("6f0e2a4c-93b1-5d3e-8c57-2b1f0d5a9e11") == "6f0e2a4c"
    assert short_ref("ent-leather-01") == "ent-leather-01"
    _title, text = render("case_escalated", {"case_ref": "c-1", "reason": "new_code"}, "zh")
    assert "因未知升级，移交未知" in text, "a code the catalogue lacks is not written as it came"


def _longest(name: str, language: str) -> str | float | list[str]:
    """The longest value a parameter could be given: Chinese text of 400,000 characters
    for a name, a long id, huge numbers, a hundred of the longest codes."""
    index = 0 if language == "zh" else 1
    longest_code = max(WORDS, key=lambda code: len(WORDS[code][index]))
    by_name: dict[str, str | float | list[str]] = {
        "households": 10**40,
        "count": 10**40,
        "topics": [longest_code] * 100,
        "reason": longest_code,
        "referred_to": longest_code,
        "service": longest_code,
    }
    if name in by_name:
        return by_name[name]
    if name.endswith("_kg"):
        return 1e300
    if name.endswith("_date"):
        return "2026-06-05T09:30:00+08:00" * 1000
    if name.endswith("_ref") or name == "block":
        return "R" * 400_000
    return "警" * 400_000


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("template", sorted(SEED))
def test_every_template_at_its_longest_fields_fits_three_segments(
    template: Template, language: str
) -> None:
    params = {name: _longest(name, language) for name in SEED[template]}

    _title, text = render(template, params, "zh" if language == "zh" else "en")

    assert sms_segments(text) <= MAX_SEGMENTS
    words = TEXTS[template][0 if language == "zh" else 1].split("{")[0]
    assert words in text, "the template's own words are never cut"


def test_a_400000_character_address_as_a_name_is_one_short_sms_not_5971_segments() -> None:
    address = "丽水市莲都区" + "水阁街道三岩寺路12号" * 40_000

    _title, text = render(
        "home_service_scheduled",
        {"requester_name": address, "service": "id_card_renewal", "request_ref": "r-1"},
        "zh",
    )

    assert sms_segments(text) == 1
    assert text.endswith("届时民警将到登记地址。")
    assert "…" in text, "the cut is marked"


@pytest.mark.parametrize("template", sorted(SEED))
def test_the_texts_fit_three_segments_with_the_longest_signature_allowed(
    template: Template,
) -> None:
    params = {name: _longest(name, "en") for name in SEED[template]}

    _title, text = render(template, params, "en", signature_en="警" * SIGNATURE_MAX)

    assert sms_segments(text) <= MAX_SEGMENTS
    assert TEXTS[template][1].split("{")[0] in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("王芳 https://evil.cn/pay", "王芳 httpsevilcnpay"),
        ("王芳www.evil.cn", "王芳wwwevilcn"),
        ("王芳 ｗｗｗ．ｅｖｉｌ．ｃｎ", "王芳 wwwevilcn"),
        ("王芳 请拨 138-1234-5678", "王芳 请拨"),
        ("王芳１３８１２３４５６７８", "王芳"),
        ("王芳\x1b[31m\u202e红", "王芳31m红"),
        ("王\n芳\t", "王 芳"),
        ("【县公安局】退款", "县公安局退款"),
        ("第3化工厂", "第3化工厂"),
        ("Anne-Marie O'Neil", "Anne-Marie O'Neil"),
    ],
)
def test_a_name_carries_no_link_phone_number_signature_or_control_character(
    raw: str, shown: str
) -> None:
    assert clean("volunteer_name", raw) == shown


def test_ids_dates_and_codes_are_what_they_claim_or_nothing() -> None:
    assert clean("household_ref", "hh-0712") == "hh-0712"
    assert clean("household_ref", "hh-07 12 <a href=x>") == "hh-0712ahrefx"
    assert clean("request_ref", "138-1234-5678") == "-", "a phone number is no reference"
    assert clean("case_ref", "case-2026-0042") == "case-2026-0042"
    assert clean("block", "B" * 1000) == "B" * 23 + "…"
    assert clean("due_date", "2026-06-05T09:00:00+08:00") == "2026-06-05"
    assert clean("due_date", "call 13812345678") == ""
    assert clean("reason", "declined") == "declined"
    assert clean("reason", "Call 13812345678 now") == ""
    assert clean("topics", ["fire_safety", "x y", *["fake_loan"] * 50]) == [
        "fire_safety",
        "",
        "fake_loan",
        "fake_loan",
    ]
    assert clean("chemical_zh", "CAS 78-93-3") == "CAS 78-93-3"
    assert clean("surplus_kg", float("1e300")) == 1e300
    _title, text = render("transfer_proposed", {"quantity_kg": 1e300, "transfer_ref": "t"}, "zh")
    assert "1e+297吨" in text


@pytest.mark.parametrize(
    ("local", "until"),
    [
        (datetime(2026, 11, 28, 21, 59), None),
        (datetime(2026, 11, 28, 22, 0), datetime(2026, 11, 29, 7, 0)),
        (datetime(2026, 11, 28, 23, 59), datetime(2026, 11, 29, 7, 0)),
        (datetime(2026, 11, 29, 0, 30), datetime(2026, 11, 29, 7, 0)),
        (datetime(2026, 11, 29, 6, 59), datetime(2026, 11, 29, 7, 0)),
        (datetime(2026, 11, 29, 7, 0), None),
        (datetime(2026, 11, 29, 12, 0), None),
    ],
)
def test_quiet_hours_span_midnight_in_local_time(local: datetime, until: datetime | None) -> None:
    now_utc = local.replace(tzinfo=SHANGHAI).astimezone(UTC)

    found = quiet_until(now_utc, start=time(22), end=time(7), zone=SHANGHAI)

    assert found == (until.replace(tzinfo=SHANGHAI) if until else None)


def test_quiet_hours_within_a_day_and_none() -> None:
    noon = datetime(2026, 11, 28, 12, 30, tzinfo=CST)
    assert quiet_until(noon, start=time(12), end=time(14), zone=CST) == noon.replace(
        hour=14, minute=0
    )
    assert quiet_until(noon, start=time(13), end=time(14), zone=CST) is None
    assert quiet_until(noon, start=time(7), end=time(7), zone=CST) is None


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(5, timedelta(seconds=30), timedelta(minutes=3))

    assert [policy.backoff(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 180, 180, 180]


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment with the settings every service requires, to set the rest on."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1/")
    return monkeypatch


def test_settings_read_lists_and_refuse_an_unknown_time_zone(
    servers: pytest.MonkeyPatch,
) -> None:
    monkeypatch = servers
    monkeypatch.setenv("NOTIFIER_CHANNELS", "sms, log")
    monkeypatch.setenv("NOTIFIER_QUIET_KINDS", '["volunteer"]')
    monkeypatch.setenv("NOTIFIER_LANGUAGES", '{"officer:o-1": "en"}')
    monkeypatch.setenv("NOTIFIER_QUIET_HOURS_START", "21:30")

    settings = NotifierSettings.load()

    assert settings.channels == ["sms", "log"]
    assert settings.quiet_kinds == ["volunteer"]
    assert settings.languages == {"officer:o-1": "en"}
    assert settings.quiet_hours_start == time(21, 30)
    assert settings.desks()["hazchem_brigade"].email == "hazchem-brigade@station.internal"
    monkeypatch.setenv("NOTIFIER_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="NOTIFIER_TIMEZONE"):
        NotifierSettings.load()
    monkeypatch.setenv("NOTIFIER_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("NOTIFIER_CHANNELS", "sms,fax")
    with pytest.raises(SettingsError, match="NOTIFIER_CHANNELS"):
        NotifierSettings.load()


def test_the_desks_phones_and_addresses_are_normalised_or_refused_at_start(
    servers: pytest.MonkeyPatch,
) -> None:
    monkeypatch = servers
    monkeypatch.setenv("NOTIFIER_BRIGADE_PHONE", "+86 (0578) 1234-5678")

    assert NotifierSettings.load().desks()["hazchem_brigade"].phone == "0578-12345678"
    monkeypatch.setenv("NOTIFIER_DUTY_DESK_EMAIL", "desk@station.internal, boss@evil.example")
    with pytest.raises(SettingsError, match="NOTIFIER_DUTY_DESK_EMAIL"):
        NotifierSettings.load()
    monkeypatch.delenv("NOTIFIER_DUTY_DESK_EMAIL")
    monkeypatch.setenv("NOTIFIER_BRIGADE_PHONE", "110")
    with pytest.raises(SettingsError, match="NOTIFIER_BRIGADE_PHONE"):
        NotifierSettings.load()
