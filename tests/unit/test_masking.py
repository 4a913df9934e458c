# ruff: noqa: RUF001 - full-width punctuation in residents' texts
"""Residents' data masked in log lines, tracebacks and DLQ reasons (shared/_kit/masking.py)."""

import json
import subprocess
import sys
import uuid

import pytest
from aiokafka.structs import ConsumerRecord

from shared._kit.deadletters import MAX_ERROR_BYTES, _reason_headers
from shared._kit.masking import MASKED, mask_fields, mask_text

MOBILES = [
    "13812345678",
    "+86 138 1234 5678",
    "+86-138-1234-5678",
    "+8613812345678",
    "0086 13812345678",
    "0086-138-1234-5678",
    "8613812345678",
    "138-1234-5678",
    "138 1234 5678",
    "138.1234.5678",
    "138\u20121234\u20125678",  # figure dashes
    "\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # full-width digits
    "\uff11\uff13\uff18\uff0d\uff11\uff12\uff13\uff14\uff0d\uff15\uff16\uff17\uff18",
]


@pytest.mark.parametrize("phone", MOBILES)
def test_a_mobile_number_in_any_spelling_keeps_its_first_three_and_last_four_digits(
    phone: str,
) -> None:
    masked = mask_text(f"call {phone} now")

    assert masked.removeprefix("call ").removeprefix("+86 ").removesuffix(" now") == ("138****5678")


@pytest.mark.parametrize(
    ("landline", "masked"),
    [
        ("010-12345678", "010-****5678"),
        ("01012345678", "010-****5678"),
        ("(0571) 8765432", "0571-****5432"),
        ("(0571)87654321", "0571-****4321"),
        ("\uff080571\uff0987654321", "0571-****4321"),  # full-width brackets
        ("0571-8765-4321", "0571-****4321"),
        ("021 6123 4567", "021-****4567"),
        ("+86 10 1234 5678", "+86 10-****5678"),
        ("+86-571-87654321", "+86 571-****4321"),
    ],
)
def test_a_landline_keeps_its_area_code_and_last_four_digits(landline: str, masked: str) -> None:
    assert mask_text(f"desk: {landline}.") == f"desk: {masked}."


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("330102193601011234", "330102********1234"),
        ("33010219360101123X", "330102********123X"),
        ("33010219360101123x", "330102********123x"),
        ("330102 19360101 1234", "330102********1234"),
        ("\uff13\uff13\uff10\uff11\uff10\uff12199001011234", "330102********1234"),
        ("330102360101123", "330102******123"),  # the old 15-digit numbers
    ],
)
def test_id_card_numbers_keep_their_region_and_last_digits(number: str, masked: str) -> None:
    assert mask_text(f"身份证号{number}。") == f"身份证号{masked}。"


@pytest.mark.parametrize(
    "text",
    [
        "ent-leather-01",
        "hh-000123",
        "block-07",
        "2026-06-03",
        "2026-06-03T09:30:00+08:00",
        "2026-12-04T16:49:17.123456Z",
        "10,000 kg",
        "12345.5 kg",
        "surplus_kg=10000.0 stock_kg=20000",
        "offset=1234567 partition=3",
        "at_ms=1795920000000",
        "ORD-2026060312345",
        "127.0.0.1:19092",
        "CAS 7722-84-1, 7664-93-9",
        "1733330000.123456",
    ],
)
def test_ids_dates_quantities_offsets_and_timestamps_are_left_alone(text: str) -> None:
    assert mask_text(text) is text


def test_uuids_are_never_taken_for_phone_numbers() -> None:
    """Uuids whose digits would read as a phone (`…-a138-1234-5678-…`), and many random ones."""
    risky = [
        "0f1e2d3c-a138-1234-5678-0123456789ab",
        "abcde138-1234-5678-9abc-def012345678",
        "0f1e2d3c-4b5a-6978-8a9b-a13812345678",
        "visit-0f1e2d3c-a138-1234-5678-0123456789ab",
    ]
    for text in [*risky, *(str(uuid.uuid4()) for _ in range(20_000))]:
        assert mask_text(text) == text
    assert mask_text(f"13812345678 {risky[0]}") == f"138****5678 {risky[0]}"
    # a uuid's dashes, not its hex digits: a number, not an id
    assert mask_text("电话号码:138-1234-5678-call-backtomorrow") == (
        "电话号码:138****5678-call-backtomorrow"
    )


def test_personal_fields_are_masked_by_their_names_at_any_depth() -> None:
    members = [{"name": "张三", "age": 78, "phone": "13812345678", "mobility_impaired": True}]
    line = {
        "event": "household_registered",
        "household_id": "hh-000123",
        "address": "浙江省杭州市西湖区文三路 18 号",
        "members": members,
        "lives_alone_elderly": True,
        "requested_by": {"name": "李四", "relation": "son", "phone": "0571-87654321"},
        "parties": ["王五", "赵六"],
        "findings": {"dispute": {"description": "两家为院墙争执", "resolved_on_site": True}},
        "volunteer_name": "Wu Mei",
        "email": "zhang.san@example.com",
        "to": "欧阳娜娜",
        "text": "【县公安局】张三您好，请于明日在家等候",
    }

    masked = mask_fields(None, "info", dict(line))

    assert masked["address"] == "浙江省" + MASKED
    assert masked["members"] == [
        {"name": "张*", "age": "70s", "phone": "138****5678", "mobility_impaired": "*"}
    ]
    assert masked["lives_alone_elderly"] == "*"
    assert masked["requested_by"] == {"name": "李*", "relation": "son", "phone": "0571-****4321"}
    assert masked["parties"] == ["王*", "赵*"]
    assert masked["findings"] == {
        "dispute": {"description": "两家为" + MASKED, "resolved_on_site": True}
    }
    assert masked["volunteer_name"] == "W***"
    assert masked["email"] == "z***@example.com"
    assert masked["to"] == "欧***"
    assert masked["text"] == "【县公" + MASKED
    assert masked["household_id"] == "hh-000123"
    assert members[0]["name"] == "张三", "the caller's data is left as it was"


def test_an_enterprise_its_chemicals_and_the_events_fields_are_not_personal() -> None:
    line = {
        "event": "event_received",
        "event_type": "enterprise.enterprise_registered",
        "subject": "ent-leather-01",
        "enterprise_name": "东方皮革有限公司",
        "chemical_name": "丁酮",
        "enterprise": {
            "enterprise_id": "ent-leather-01",
            "name": "东方皮革有限公司",
            "contact": {"name": "陈静", "phone": "13912345678"},
        },
        "transfers": [
            {"to_enterprise_id": "ent-paint-02", "to_name": "华彩涂料", "quantity_kg": 500}
        ],
        "offset": 13_812_345_678,
        "partition": 3,
        "latency_ms": 1.25,
    }

    masked = mask_fields(None, "info", dict(line))

    assert masked["enterprise"] == {
        "enterprise_id": "ent-leather-01",
        "name": "东方皮革有限公司",
        "contact": {"name": "陈*", "phone": "139****5678"},
    }
    assert masked["offset"] == "138****5678", "a number long enough to be a phone is one"
    for key in ("event_type", "subject", "enterprise_name", "chemical_name", "transfers"):
        assert masked[key] == line[key]
    assert masked["partition"] == 3
    assert masked["latency_ms"] == 1.25


TRACEBACK_SCRIPT = """
import logging, structlog
from shared._kit.logging import configure_logging
configure_logging(service="outreach", fmt=FORMAT)
def register(phone, id_number):
    raise ValueError(f"no such resident: {phone} / {id_number}")
try:
    register("+86 139 1234 5678", "33010219360101123X")
except ValueError:
    structlog.get_logger("station.outreach").exception("handler_failed", address="浙江省杭州市")
    logging.getLogger("aiokafka").exception("callback failed for 13912345678")
"""


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_go_through_the_same_masking(fmt: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", TRACEBACK_SCRIPT.replace("FORMAT", repr(fmt))],
        capture_output=True,
        text=True,
        check=True,
    )

    assert "ValueError" in done.stderr
    assert "139****5678" in done.stderr
    assert "330102********123X" in done.stderr
    for secret in ("1234 5678", "13912345678", "19360101", "杭州市"):
        assert secret not in done.stderr, fmt
    if fmt == "json":
        ours, theirs = (json.loads(line) for line in done.stderr.splitlines())
        assert ours["address"] == "浙江省" + MASKED
        assert "139****5678" in ours["exception"]
        assert "139****5678" in theirs["exception"]


def _record(value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="outreach.intake",
        partition=2,
        offset=41,
        timestamp=0,
        timestamp_type=0,
        key=b"hh-000123",
        value=value,
        checksum=None,
        serialized_key_size=9,
        serialized_value_size=len(value),
        headers=[],
    )


def test_the_dlq_reason_is_masked_and_cut_after_masking() -> None:
    error = "ValueError: bad phone 138-1234-5678 of 330102193601011234"
    headers = dict(_reason_headers(_record(b"{}"), "handler_failed", error))

    assert headers["x-dlq-error"] == b"ValueError: bad phone 138****5678 of 330102********1234"
    assert headers["x-dlq-reason"] == b"handler_failed"

    long = "x" * (MAX_ERROR_BYTES - 5) + " 13812345678"
    cut = dict(_reason_headers(_record(b"{}"), "handler_failed", long))["x-dlq-error"]
    assert len(cut) == MAX_ERROR_BYTES
    assert cut.endswith(b" 138*"), "the cut is of the masked text"
