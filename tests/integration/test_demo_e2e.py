"""The demo as an end-to-end test: the four services as separate processes on the contract's
topics (each with a consumer group starting at the topics' end and a database of its own),
real Kafka and FerretDB, and `python -m cli demo` playing the five seed stories into them.
Every story must complete; its chain is then read back from the topics on its own, and
no line the four services logged meanwhile carries an unmasked phone or ID number."""

import json
import os
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import pytest

from cli.events import Event, read_all
from tests.integration.station_support import TOPICS, run_cli, running_station
from tests.processes import ServiceProcess
from tests.support import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
async def stack(
    infra: Infra, unique_id: Callable[[str], str]
) -> AsyncIterator[dict[str, ServiceProcess]]:
    """The four services, each a process (with its HTTP port and the lines it logs)."""
    async with running_station(infra, unique_id("demo")) as (processes, _databases):
        yield processes


def _of(events: list[Event], correlation: str, event_type: str) -> list[Event]:
    return [e for e in events if e.correlationid == correlation and e.type == event_type]


# The check of the logs, written apart from the kit's masking (shared/_kit/masking.py) so
# one does not share the other's blind spots: every value of every line, its text
# NFKC-normalised (full-width digits read as digits), uuids set aside, then every run of
# digit groups joined by single separators, and every sequence of whole groups in it,
# tried as a mobile (with or without 86/0086), a landline, or an 18- or 15-digit ID.
_UUIDS = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_RUNS = re.compile(r"\+?\d+(?:[ \-.()]{1,2}\d+)*[Xx]?")
_GROUPS = re.compile(r"\d+[Xx]?")
_PERSONAL = re.compile(
    r"(?:(?:0086|86)?1[3-9]\d{9}"  # mobile
    r"|(?:(?:0086|86)0?|0)(?:10|2\d|[3-9]\d\d)\d{7,8}"  # landline; from abroad without its 0
    r"|\d{17}[\dXx]|\d{15})"  # ID card
)


def _values(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for key, item in value.items() if key != "timestamp" for text in _values(item)]
    if isinstance(value, list):
        return [text for item in value for text in _values(item)]
    return [str(value)]


def unmasked_numbers(line: str) -> list[str]:
    """The phone and ID numbers written in clear in one log line (JSON or not)."""
    try:
        texts = _values(json.loads(line))
    except ValueError:
        texts = [line]
    found = []
    for text in texts:
        plain = _UUIDS.sub(" ", unicodedata.normalize("NFKC", text))
        for run in _RUNS.finditer(plain):
            groups = _GROUPS.findall(run.group())
            for start in range(len(groups)):
                for end in range(start + 1, len(groups) + 1):
                    joined = "".join(groups[start:end])
                    if _PERSONAL.fullmatch(joined):
                        found.append(run.group())
    return found


def test_the_log_check_finds_numbers_in_every_spelling_and_not_ids_or_dates() -> None:
    """The check of the demo's logs would see a number if one were there."""
    clear = [
        "13800000051",
        "+86 138 0000 0051",
        "0086-138-0000-0051",
        "\uff11\uff13\uff18\uff10\uff10\uff10\uff10\uff10\uff10\uff15\uff11",
        "010-12345678",
        "(0571) 8765432",
        "+86 10 1234 5678",
        "330102193601011234",
        "33010219360101123X",
        "330102360101123",
    ]
    for number in clear:
        assert unmasked_numbers(json.dumps({"note": f"call {number}."})), number
    assert unmasked_numbers("Traceback: bad phone 13800000051")
    masked = ["138****0051", "010-****5678", "330102********1234", "330102******123"]
    other = ["ent-leather-01", "2026-06-03T09:30:00+08:00", "10,000 kg", "7722-84-1"]
    line = {"timestamp": "2026-06-03T01:30:00.123456Z", "offset": 1234567, "id": str(uuid4())}
    for text in [*masked, *other]:
        assert unmasked_numbers(json.dumps({**line, "note": text})) == [], text


async def test_the_five_seed_stories_complete_across_the_four_services(
    infra: Infra, stack: dict[str, ServiceProcess], unique_id: Callable[[str], str]
) -> None:
    run = unique_id("r")[-6:]
    env = {
        **os.environ,
        **infra.env(),
        "COLUMNS": "160",
        **{f"{name.upper()}_HTTP_PORT": str(p.port) for name, p in stack.items()},
    }
    code, out = await run_cli(env, "demo", "--lang", "en", "--run", run, timeout_s=240)
    assert code == 0, out
    assert "5/5 stories complete" in out, out
    assert "disputes resolved" in out, out  # the final figures
    # /stats serves figures kept in memory: they still show what the stories did
    redistributed = re.search(r"kg redistributed\W+([\d,.]+)", out)
    assert redistributed is not None, out
    assert float(redistributed.group(1).replace(",", "")) > 0, out

    events = await read_all(infra.kafka_bootstrap_servers, TOPICS)
    story = f"{run}-{{}}".format
    [resolved] = _of(events, story("enterprise"), "enterprise.alert_resolved")
    assert resolved.data["stock_kg"] == 20_000
    declined = _of(events, story("enterprise"), "enterprise.transfer_declined")
    assert len(declined) == 1, "the nearest recipient declined once"
    delivered = _of(events, story("enterprise"), "enterprise.transfer_completed")
    assert sum(e.data["quantity_kg"] for e in delivered) == 10_000
    told = _of(events, story("enterprise"), "notifier.notification_sent")
    assert {e.data["recipient"]["kind"] for e in told} >= {"officer", "desk", "enterprise"}

    [lei] = _of(events, story("mediation"), "mediation.case_resolved")
    assert lei.data["how"] == "agreement_fulfilled"
    [zheng] = _of(events, story("fraud"), "outreach.fraud_dissuaded")
    assert zheng.data["amount_yuan"] == 21_000
    [launched] = _of(events, story("fraud"), "outreach.campaign_launched")
    visited = _of(events, story("fraud"), "outreach.visit_completed")
    assert len(visited) == launched.data["visits_planned"] == 3
    [wus] = _of(events, story("wus"), "mediation.case_resolved")
    assert wus.data["how"] == "resolved_on_site"
    assert _of(events, story("idcard"), "outreach.home_service_completed")
    # every fact of a story hangs under its root command: the chain printed is whole
    for key in ("enterprise", "mediation", "fraud", "wus", "idcard"):
        mine = [e for e in events if e.correlationid == story(key)]
        ids = {e.id for e in mine}
        roots = [e for e in mine if e.causationid not in ids]
        assert all(e.topic.endswith(".intake") for e in roots), (key, [e.type for e in roots])

    # nothing the services logged during the demo gives a phone or ID number in clear
    lines = [(name, line) for name, p in stack.items() for line in p.lines]
    clear = [(name, number) for name, line in lines for number in unmasked_numbers(line)]
    masked = sum(len(re.findall(r"\d\*{4}\d", line)) for _, line in lines)
    print(
        f"demo logs: {len(lines)} lines scanned, {len(clear)} unmasked phone or ID "
        f"numbers, {masked} masked ones"
    )
    assert len(lines) > 100, "the services logged the demo"
    assert clear == []
