"""The bounded field types every command uses: what they accept, normalise and refuse."""

import pytest
from pydantic import BaseModel, ValidationError

from shared._kit.fields import EmailAddress, Id, Name, PhoneNumber, Text


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
