"""The operators' CLI against a real broker and the enterprise service as a process:
`submit` (a broken file sends nothing; a good one starts a story), `story` (the chain by
causation), `tail`, `stats`, and the stack's readable lines from the service's real log."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from cli.app import app
from cli.events import read_all
from cli.logview import EventData, render_raw
from cli.stats import fetch_stats, headline
from cli.story import build_story, story_events, story_topics
from cli.tail import run_tail
from tests.integration.enterprise_support import BUTANONE, CAT3, Enterprise, _east
from tests.support import eventually

pytestmark = pytest.mark.integration


def _enterprise(eid: str, name: str, km: float, capacity_kg: float) -> dict[str, Any]:
    return {
        "type": "enterprise.register_enterprise",
        "data": {
            "enterprise_id": eid,
            "name": name,
            "address": f"{km} km east",
            "location": _east(km),
            "licences": CAT3,
            "liaison_officer": {"officer_id": "off-lu", "name": "吕警官", "phone": "13800000001"},
            "contact": {"name": "厂长", "phone": "13900000002"},
            "storage": [{"cas": BUTANONE, "capacity_kg": capacity_kg}],
        },
    }


async def _cli(bootstrap: str, *args: str) -> Result:
    """`station …` as an operator runs it (in a thread: the command runs its own loop)."""
    return await asyncio.to_thread(
        CliRunner().invoke, app, [*args, "--bootstrap", bootstrap], catch_exceptions=False
    )


async def test_submit_story_tail_stats_and_readable_logs(
    enterprise: Enterprise, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = enterprise.infra.kafka_bootstrap_servers
    monkeypatch.setenv("ENTERPRISE_TOPIC_PREFIX", enterprise.prefix)
    for other in ("MEDIATION", "OUTREACH", "NOTIFIER"):  # topics that do not exist: skipped
        monkeypatch.setenv(f"{other}_TOPIC_PREFIX", f"{enterprise.prefix}-no-{other.lower()}")
    leather, dye = enterprise.id("leather"), enterprise.id("dye")
    story = f"story-{enterprise.suffix}"

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        f"- {json.dumps(_enterprise(leather, '皮革厂', 0, 20_000), ensure_ascii=False)}\n"
        "- type: enterprise.declare_inventory\n"
        f"  data: {{enterprise_id: {leather}, cas: {BUTANONE}, movement: bought,"
        " quantity_kg: 30000}\n",
        encoding="utf-8",
    )
    refused = await _cli(bootstrap, "submit", str(broken), "--lang", "en")
    assert refused.exit_code == 2
    assert f"{broken}:3: commands[1].data.movement: Input should be 'purchase'" in refused.output

    first = tmp_path / "first.json"
    first.write_text(
        json.dumps(
            [
                _enterprise(leather, "丽水合成革", 0, 20_000),
                _enterprise(dye, "莲都染料", 5, 10_000),
                {
                    "type": "enterprise.declare_demand",
                    "data": {"enterprise_id": dye, "cas": BUTANONE, "quantity_kg": 6000},
                },
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert (await _cli(bootstrap, "submit", str(first))).exit_code == 0
    # other enterprises' commands may overtake these (order holds per subject): wait
    await enterprise.tail.wait_for("enterprise.demand_declared", enterprise_id=dye)
    purchase = tmp_path / "purchase.yaml"
    purchase.write_text(
        f"""\
type: enterprise.declare_inventory
id: purchase-{enterprise.suffix}
correlationid: {story}
data: {{enterprise_id: {leather}, cas: "{BUTANONE}", movement: purchase, quantity_kg: 30000}}
""",
        encoding="utf-8",
    )
    sent = await _cli(bootstrap, "submit", str(purchase))
    assert sent.exit_code == 0, sent.output
    assert f"purchase-{enterprise.suffix}" in sent.output
    assert story in sent.output
    assert "已发送 1 条指令" in sent.output
    [intake] = [t for t in story_topics() if t.startswith(enterprise.prefix + ".intake")]
    assert len(await read_all(bootstrap, [intake])) == 4, "the broken file sent nothing"

    [proposed] = await enterprise.tail.wait_for(
        "enterprise.redistribution_proposed", source_enterprise_id=leather
    )
    [transfer] = proposed["data"]["transfers"]
    second = tmp_path / "second.yaml"
    second.write_text(
        f"""\
- type: enterprise.respond_to_transfer
  correlationid: {story}
  data: {{transfer_id: {transfer["transfer_id"]}, enterprise_id: {dye}, accepted: true}}
- type: enterprise.confirm_delivery
  correlationid: {story}
  data: {{transfer_id: {transfer["transfer_id"]}, delivered_kg: 6000}}
""",
        encoding="utf-8",
    )
    assert (await _cli(bootstrap, "submit", str(second))).exit_code == 0
    await enterprise.tail.wait_for("enterprise.transfer_completed", to_enterprise_id=dye)
    await _story_shows_the_chain(bootstrap, story, proposed["type"])
    await _tail_follows_the_story(bootstrap, story)
    await _stats_show_the_figures(enterprise, monkeypatch)
    await _the_service_log_reads_as_one_line_per_event(bootstrap, enterprise, story)


async def _story_shows_the_chain(bootstrap: str, story: str, proposed: str) -> None:
    # story: the purchase is the root, the alert under it, the plan under the alert
    events = await story_events(bootstrap, story)
    tree = build_story(events, story)
    types = {e.type for e in tree.events()}
    assert {"enterprise.over_capacity_detected", "enterprise.transfer_completed"} <= types
    purchase = next(n for n in tree.children if n.event and n.event.id.startswith("purchase"))
    alert = next(n for n in purchase.children if n.event and "over_capacity" in n.event.type)
    assert any(c.event and c.event.type == proposed for c in alert.children)
    assert alert.elapsed is not None
    shown = await _cli(bootstrap, "story", story[:14], "--lang", "en")
    assert shown.exit_code == 0, shown.output
    assert f"story {story}" in shown.output
    assert "surplus 10,000 kg butanone" in shown.output
    assert "6,000 kg → 莲都染料; unallocated 4,000 kg" in shown.output
    lines = shown.output.splitlines()
    depth = {
        what: next(_indent(line) for line in lines if what in line)
        for what in (
            "[command] declare inventory",
            "over capacity detected",
            "redistribution proposed",
        )
    }
    assert depth["[command] declare inventory"] < depth["over capacity detected"]
    assert depth["over capacity detected"] < depth["redistribution proposed"]
    missing = await _cli(bootstrap, "story", "no-such-story")
    assert missing.exit_code == 1


def _indent(line: str) -> int:
    """How deep a line of a rich Tree is drawn: the width of its guides."""
    return len(line) - len(line.lstrip("│├└─ "))


async def _tail_follows_the_story(bootstrap: str, story: str) -> None:
    # tail: the story's lines, filtered by correlation id
    console = Console(record=True, width=200, color_system=None)
    tail = asyncio.create_task(
        run_tail(
            bootstrap,
            story_topics(),
            types=[],
            subject=None,
            correlation=story[:14],
            json_out=False,
            lang="zh",
            from_beginning=True,
            console=console,
        )
    )
    try:

        async def tailed() -> bool:
            text = console.export_text(clear=False)
            return "调剂完成" in text and "超量预警" in text

        await eventually(tailed, timeout_s=30, what="tail shows the story")
    finally:
        tail.cancel()
    text = console.export_text()
    assert "超出 10,000 kg 丁酮" in text
    assert all(story[:8] in line for line in text.splitlines() if line.strip())


async def _stats_show_the_figures(enterprise: Enterprise, monkeypatch: pytest.MonkeyPatch) -> None:
    # stats: the enterprise's figures, and the services that do not answer
    url = f"http://127.0.0.1:{enterprise.service.port}"
    monkeypatch.setenv("ENTERPRISE_URL", url)
    for other in ("MEDIATION", "OUTREACH", "NOTIFIER"):
        monkeypatch.setenv(f"{other}_URL", "http://127.0.0.1:9")

    async def redistributed() -> bool:
        found = await fetch_stats({"enterprise": url})
        return headline(found)["kg_redistributed"] == 6000

    await eventually(redistributed, timeout_s=30, what="6,000 kg redistributed in /stats")
    figures = await asyncio.to_thread(CliRunner().invoke, app, ["stats", "--lang", "en"])
    assert figures.exit_code == 1, "three services do not answer"
    assert "kg redistributed" in figures.output
    assert "6,000" in figures.output
    assert "unreachable" in figures.output


async def _the_service_log_reads_as_one_line_per_event(
    bootstrap: str, enterprise: Enterprise, story: str
) -> None:
    # the stack's readable lines, from the service's own JSON log
    known = EventData(wait_s=0.1)
    for e in await read_all(bootstrap, story_topics()):
        known.add(e.id, e.data)
    rendered = [
        (await render_raw("enterprise", raw, "en", known)).plain for raw in enterprise.service.lines
    ]
    emitted = [r for r in rendered if "emitted  over capacity detected" in r]
    assert emitted, rendered[-20:]
    assert "surplus 10,000 kg butanone" in emitted[0]
    assert emitted[0].endswith("·" + story[:8])
    assert all(len(r) < 300 for r in rendered if " emitted " in r)
