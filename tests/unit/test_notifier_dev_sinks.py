"""The development sinks' own rules, without a socket: fault injection only when the
tests turn it on, listings masked, loopback only (the process is tested in
tests/integration/test_notifier_dev_sinks.py)."""

import json
from typing import Any

import pytest

from infra.dev_sinks import SmsGateway, faults_enabled, main, mask

FAULTS = b'{"fail_first": 1, "status": 503}'


def _sms(to: str, text: str) -> bytes:
    return json.dumps({"to": to, "text": text}).encode()


async def test_faults_are_refused_unless_the_tests_turn_them_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEV_SINKS_FAULTS", raising=False)
    quiet: list[dict[str, Any]] = []
    gateway = SmsGateway(log=quiet.append, faults=faults_enabled())

    status, _ = await gateway.handle("POST", "/faults", {}, FAULTS)
    sent, _ = await gateway.handle("POST", "/sms", {"idempotency-key": "k"}, _sms("1", "x"))

    assert (status, sent) == (404, 200)
    assert gateway.fail_first == 0
    monkeypatch.setenv("DEV_SINKS_FAULTS", "1")
    testing = SmsGateway(log=quiet.append, faults=faults_enabled())
    assert (await testing.handle("POST", "/faults", {}, FAULTS))[0] == 200
    assert testing.fail_first == 1


async def test_messages_are_listed_masked_and_kept_whole_in_process() -> None:
    gateway = SmsGateway(log=lambda _line: None)
    text = "【县公安局】请联系 +86 138-1234-5678 或 wang@example.org"
    await gateway.handle("POST", "/sms", {"idempotency-key": "k"}, _sms("13812345678", text))

    _status, listed = await gateway.handle("GET", "/messages", {}, b"")

    [shown] = listed["messages"]
    assert shown["to"] == "138****5678"
    assert "1234" not in shown["text"]
    assert "wang@" not in shown["text"]
    assert gateway.messages[0]["to"] == "13812345678", "tests in-process read what was sent"


def test_masking_covers_numbers_in_any_spelling() -> None:
    assert mask("13812345678") == "138****5678"
    assert mask("0571-87654321") == "0571-****4321"
    assert mask("+86 138 1234 5678") == "+86 138****5678"
    assert (
        mask("\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18") == "138****5678"
    )
    assert mask("w@station.internal") == "w***@station.internal"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_the_sinks_refuse_a_host_other_than_loopback(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--host", host, "--sms-port", "0", "--smtp-port", "0"]) == 2

    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["event"] == "dev_sinks_failed"
    assert "loopback" in line["reason"]
