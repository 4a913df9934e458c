"""The bounded field types every command uses: what they accept, normalise and refuse."""

from datetime import UTC, date, datetime
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from shared._kit.fields import (
    Age,
    Day,
    Distinct,
    EmailAddress,
    Id,
    Kilograms,
    Moment,
    Name,
    PhoneNumber,
    ShortText,
    Text,
    Yuan,
    bounded,
)


class Sample(BaseModel):
    id: Id = "a-1"
    name: Name = "张三"
    text: Text = "x"
    phone: PhoneNumber = "13812345678"
    email: EmailAddress = "duty@station.example.cn"


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        (
            "\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
            "13812345678",
        ),  # full-width
        ("(010) 1234 5678", "010-12345678"),
        ("+86 10 1234 5678", "010-12345678"),
        ("+86 010 12345678", "010-12345678"),
        ("0571-8765432", "0571-8765432"),
        ("021.1234.5678", "021-12345678"),
    ],
)
def test_chinese_phone_numbers_are_normalised(written: str, normalised: str) -> None:
    assert Sample(phone=written).phone == normalised


@pytest.mark.parametrize(
    "written",
    [
        "",
        "110",
        "12345678901",
        "138123456789",
        "+1 415 555 0100",
        "1381234567x",
        "1" * 40,
        "138\x1b12345678",
        "138 1234 5678; rm",
        "+86+8613812345678",
    ],
)
def test_other_phone_numbers_are_refused(written: str) -> None:
    with pytest.raises(ValidationError, match="phone"):
        Sample(phone=written)


@pytest.mark.parametrize(
    "written",
    [
        "a@b.cn,c@d.cn",
        "a@b.cn\r\nBcc: x@y.cn",
        "Bob <a@b.cn>",
        '"x y"@b.cn',
        "a@",
        "a" * 250 + "@b.cn",
    ],
)
def test_only_single_email_addresses_pass(written: str) -> None:
    with pytest.raises(ValidationError, match="email"):
        Sample(email=written)


def test_text_is_bounded_and_free_of_control_characters() -> None:
    assert Sample(name="  郑女士 ").name == "郑女士"
    assert Sample(text="第一行\r\n第二行").text == "第一行\n第二行"
    for bad in ("\x1b[31m红", "a\u202eb", "x" * 65, ""):
        with pytest.raises(ValidationError, match="name"):
            Sample(name=bad)
    with pytest.raises(ValidationError, match="text"):
        Sample(text="x" * 2001)


@pytest.mark.parametrize("written", ["", "a b", "-a", "x" * 65, "ent\u00e9", "a\\b"])
def test_ids_are_short_printable_ascii(written: str) -> None:
    with pytest.raises(ValidationError, match="id"):
        Sample(id=written)


class Bounds(BaseModel):
    kg: Kilograms = 0
    yuan: Yuan = 0
    age: Age = 0
    day: Day = date(2026, 6, 3)
    at: Moment = datetime(2026, 6, 3, tzinfo=UTC)
    tags: Annotated[list[ShortText], bounded(3), Distinct] = []


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("kg", -0.001, "greater than or equal to 0"),
        ("kg", 1e8 + 1, "less than or equal to 100000000"),
        ("yuan", 10**9 + 1, "less than or equal to 1000000000"),
        ("yuan", 2.5, "fractional part"),
        ("age", 151, "less than or equal to 150"),
        ("day", "1999-12-31", "greater than or equal to 2000-01-01"),
        ("at", "2100-01-01T08:00:00+08:00", "a time between 2000-01-01 and 2099-12-31"),
        ("at", "2026-06-03T09:30:00", "timezone"),
        ("tags", ["a", "b", "c", "d"], "at most 3 items"),
        ("tags", ["a", " a "], "lists the same entry twice: 'a'"),
    ],
)
def test_numbers_dates_and_lists_out_of_range_are_refused(
    field: str, value: object, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Bounds.model_validate({field: value})
    [error] = caught.value.errors()
    assert error["loc"] == (field,)
    assert says in error["msg"]


def test_the_last_moment_of_the_window_counts_in_utc() -> None:
    assert Bounds.model_validate({"at": "2100-01-01T07:59:59+08:00"}).at.year == 2100
