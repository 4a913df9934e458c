"""One short line per event, from the topics (`tail`) and from the logs (`make stack`)."""

import asyncio
import json
from typing import Any

import pytest

from cli.events import Event
from cli.logview import EventData, render_raw
from cli.render import event_line, log_line
from tests.unit.cli_events import T0, ev

ALERT: dict[str, Any] = {
    "surplus_kg": 10_000,
    "stock_kg": 30_000,
    "chemical_name": "丁酮",
    "chemical_name_en": "butanone",
}


def test_an_event_line_has_time_service_verb_type_subject_fact_and_short_correlation() -> None:
    event = ev(
        "enterprise.over_capacity_detected",
        "a1",
        subject="ent-leather-01",
        corr="3f2a1c9b-aaaa-bbbb",
        **ALERT,
    )
    zh = event_line(event, "zh").plain
    assert zh.split()[1:5] == ["enterprise", "发出", "超量预警", "ent-leather-01"]
    assert "超出 10,000 kg 丁酮" in zh
    assert zh.endswith("·3f2a1c9b")
    en = event_line(event, "en").plain
    assert "emitted  over capacity detected  ent-leather-01  surplus 10,000 kg butanone" in en
    assert len(en) < 140


def test_refusals_commands_dead_letters_and_unreadable_records_say_so() -> None:
    rejected = ev(
        "mediation.command_rejected",
        "r",
        command_type="mediation.report_dispute",
        reason="invalid_data",
        errors=["parties.0.role: Input should be 'applicant'"],
    )
    line = event_line(rejected, "en")
    assert "rejected" in line.plain
    assert "report_dispute invalid_data: parties.0.role" in line.plain
    assert any("red" in str(span.style) for span in line.spans)
    command = ev(
        "mediation.register_mediator", "c", command=True, name="雷女士", specialties=["family"]
    )
    assert "指令  登记调解员" in event_line(command, "zh").plain
    assert "雷女士 家庭" in event_line(command, "zh").plain
    broken = Event(
        topic="enterprise.events", partition=2, offset=7, timestamp=T0, problem="not JSON"
    )
    assert "unreadable" in event_line(broken, "en").plain
    assert "2@7  not JSON" in event_line(broken, "en").plain


def test_a_prefixed_topic_still_shows_the_service_name() -> None:
    event = ev(
        "mediation.mediator_assigned", "m", topic="mediation-t42.events", mediator_id="med-lei"
    )
    assert "mediation " in event_line(event, "en").plain
    assert "assigned to Mediator med-lei" in event_line(event, "en").plain


def _record(**fields: object) -> dict[str, object]:
    return {
        "timestamp": "2026-06-03T01:30:00.5Z",
        "level": "info",
        "service": "enterprise",
        **fields,
    }


def test_a_log_line_about_an_event_reads_like_a_tail_line() -> None:
    record = _record(
        event="event_emitted",
        topic="enterprise.events",
        event_id="a1",
        event_type="enterprise.over_capacity_detected",
        subject="ent-1",
        correlation_id="3f2a1c9b-x",
        causation_id="c",
    )
    line = log_line(record, "en", ALERT).plain
    assert "enterprise emitted  over capacity detected  ent-1  surplus 10,000 kg" in line
    assert line.endswith("·3f2a1c9b")
    received = log_line({**record, "event": "event_received", "service": "notifier"}, "zh")
    assert "notifier   收到  超量预警  ent-1" in received.plain


def test_warnings_errors_and_dead_letters_stand_out() -> None:
    dead = log_line(
        _record(
            event="dead_lettered",
            level="warning",
            topic="enterprise.intake",
            partition=1,
            offset=9,
            reason="not_a_cloudevent",
            error="not JSON",
        ),
        "en",
    )
    assert "dead-lettered" in dead.plain
    assert "1@9" in dead.plain
    assert any("red" in str(span.style) for span in dead.spans)
    failed = log_line(_record(event="outbox_relay_failed", level="error", error="boom"), "en")
    assert "outbox_relay_failed" in failed.plain
    assert "error=boom" in failed.plain
    assert any("red" in str(span.style) for span in failed.spans)
    rejected = log_line(
        _record(
            event="command_rejected",
            level="info",
            event_type="enterprise.declare_inventory",
            reason="unknown_cas",
            errors=[],
            subject="ent-1",
        ),
        "zh",
    )
    assert "拒绝" in rejected.plain
    assert "unknown_cas" in rejected.plain


async def test_the_stack_view_waits_briefly_for_the_events_data() -> None:
    known = EventData()
    raw = json.dumps(
        _record(
            event="event_emitted",
            event_id="a1",
            subject="ent-1",
            event_type="enterprise.over_capacity_detected",
        )
    )
    later = asyncio.get_running_loop().call_later(0.05, known.add, "a1", ALERT)
    line = await render_raw("enterprise", raw, "en", known)
    later.cancel()
    assert "surplus 10,000 kg" in line.plain
    text = await render_raw("enterprise", "Traceback (most recent call last):", "en", known)
    assert text.plain.startswith("enterprise")
    assert "Traceback" in text.plain


async def test_without_the_data_a_line_comes_out_anyway_and_soon() -> None:
    known = EventData()
    raw = json.dumps(
        _record(
            event="event_emitted",
            event_id="nope",
            subject="s",
            event_type="enterprise.alert_resolved",
        )
    )
    for _ in range(3):
        await render_raw("enterprise", raw, "en", known)
    loop = asyncio.get_running_loop()
    started = loop.time()
    line = await render_raw("enterprise", raw, "en", known)
    assert loop.time() - started < 0.2, "after repeated misses lines are not held back"
    assert "alert resolved" in line.plain


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_known_type_has_a_name_and_a_fact(lang: str) -> None:
    from cli.facts import TYPE_NAMES
    from cli.keyfacts import FACTS

    assert set(FACTS) <= set(TYPE_NAMES)
    for event_type in TYPE_NAMES:
        line = event_line(ev(event_type, "x", quantity_kg=5), lang)  # type: ignore[arg-type]
        assert line.plain


def test_an_optional_field_left_out_shows_nothing_not_a_question_mark() -> None:
    from cli.keyfacts import key_fact

    accepted = key_fact(
        "enterprise.respond_to_transfer", {"enterprise_id": "e1", "accepted": True}, "zh"
    )
    declined = key_fact(
        "enterprise.respond_to_transfer",
        {"enterprise_id": "e1", "accepted": False, "reason": "库房已满"},
        "zh",
    )

    assert accepted == "e1 接受：是"  # noqa: RUF001 - the Chinese colon
    assert declined == "e1 接受：否 库房已满"  # noqa: RUF001
