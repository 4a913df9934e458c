"""`python -m infra.dev_sinks` as a process: the development SMS gateway and mail sink
take what the notifier's real channels send, log each message as one JSON line, honour
the idempotency key, list messages masked, refuse a body past its limit, and refuse on
purpose when told to, only with the tests' flag set (no Kafka needed)."""

import asyncio
import json
import os
import signal
import sys
from typing import Any

import httpx
import pytest

from services.notifier.channels import Outgoing, SmsGateway, SmtpMail
from services.notifier.domain import Delivered, Failed
from tests.support import ROOT, eventually, free_port

pytestmark = pytest.mark.integration


def _message(notification_id: str, address: str) -> Outgoing:
    return Outgoing(
        notification_id=notification_id,
        channel="sms",
        address=address,
        name="吕警官",
        title="超量预警",
        text="【县公安局】丽水合成革有限公司丁酮库存30吨，许可20吨，超出10吨，请尽快核查处置。",  # noqa: RUF001
        segments=1,
        template="over_capacity_officer",
        language="zh",
    )


async def test_the_dev_sinks_log_each_message_once_per_key_and_stop_cleanly() -> None:
    sms_port, smtp_port = free_port(), free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra.dev_sinks",
        "--sms-port",
        str(sms_port),
        "--smtp-port",
        str(smtp_port),
        "--token",
        "t0k",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "DEV_SINKS_FAULTS": "1"},
    )
    lines: list[dict[str, Any]] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:  # each line as it comes, while the process runs
            lines.append(json.loads(raw))  # noqa: PERF401

    reader = asyncio.create_task(read())
    try:
        await eventually(
            lambda: _true(any(line["event"] == "dev_sinks_ready" for line in lines)),
            timeout_s=20,
            what="dev_sinks_ready",
        )
        url = f"http://127.0.0.1:{sms_port}"
        gateway = SmsGateway(f"{url}/sms", "t0k", timeout_s=5)
        wrong_token = SmsGateway(f"{url}/sms", "nope", timeout_s=5)
        mail = SmtpMail("127.0.0.1", smtp_port, "notifier@station.test", "", "", False, False, 5)
        first, again = _message("n-1", "13812345678"), _message("n-1", "13812345678")

        assert await gateway.send(first) == Delivered()
        assert await gateway.send(again) == Delivered(), "a repeat is answered as the first"
        assert await wrong_token.send(first) == Failed(
            'sms gateway answered 401: {"error": "bad or missing token"}', permanent=True
        )
        async with httpx.AsyncClient() as http:
            await http.post(f"{url}/faults", json={"fail_first": 1, "status": 503})
            refused = await gateway.send(_message("n-2", "13800000002"))
            taken = await gateway.send(_message("n-2", "13800000002"))
            listed = (await http.get(f"{url}/messages")).json()["messages"]
            too_big = await http.post(
                f"{url}/sms",
                content=b"{" + b" " * (64 * 1024) + b"}",
                headers={"Authorization": "Bearer t0k"},
            )
        email = _message("n-3", "brigade@station.internal")
        assert await mail.send(email) == Delivered()
        assert await mail.send(email) == Delivered()

        assert refused == Failed(
            'sms gateway answered 503: {"error": "refused on purpose (faults)"}'
        ), "a 5xx is retried, not permanent"
        assert taken == Delivered()
        assert [(m["key"], m["to"]) for m in listed] == [
            ("n-1", "138****5678"),
            ("n-2", "138****0002"),
        ], "listed masked"
        assert too_big.status_code == 413
        await eventually(
            lambda: _true(sum(line["event"] == "mail_received" for line in lines) == 2),
            timeout_s=10,
            what="two mail lines",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
        await reader

    sms = [line for line in lines if line["event"] == "sms_received"]
    assert [(s["idempotency_key"], s["duplicate"]) for s in sms] == [
        ("n-1", False),
        ("n-1", True),
        ("n-2", False),
    ]
    assert sms[0]["to"] == "138****5678", "phone numbers are masked in the log"
    assert "丁酮库存30吨" in sms[0]["text"]
    assert {line["event"] for line in lines} >= {"sms_unauthorized", "sms_refused"}
    mails = [line for line in lines if line["event"] == "mail_received"]
    assert [(m["to"], m["subject"], m["duplicate"]) for m in mails] == [
        (["b***@station.internal"], "超量预警", False),
        (["b***@station.internal"], "超量预警", True),
    ]
    assert mails[0]["message_id"] == "<n-3@notifier.station>"
    assert "请尽快核查处置" in mails[0]["text"]
    assert lines[-1]["event"] == "dev_sinks_stopped"
    assert code == 0


async def _true(value: bool) -> bool:
    return value
