# ruff: noqa: RUF001
"""`station stats`: every service's `/stats` in one table, under the station's headline.

The headline is what the station reports: disputes resolved, kilograms of hazardous
chemicals redistributed, frauds dissuaded and the yuan they protected, door-knocking
visits done, home services done. A service that does not answer is shown as such (and
the command exits 1); the others are still shown.
"""

import asyncio
import json
import os
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table

from cli.i18n import DEFAULT_LANG, Lang, labels, t
from cli.options import LangOption, check_lang

DEFAULT_PORTS = {"mediation": 8101, "enterprise": 8102, "outreach": 8103, "notifier": 8104}
TIMEOUT_S = 5.0
# a service recomputes its figures within its STATS_INTERVAL_S (2 s) of a write: figures
# awaited to include a moment are asked for again this often, this long at most
FRESH_POLL_S = 0.25
FRESH_WAIT_S = 10.0
PENDING = "pending"

labels(
    {
        "stats.title": {"zh": "派出所数据", "en": "Station figures"},
        "stats.services": {"zh": "各服务数据", "en": "Figures by service"},
        "stats.service": {"zh": "服务", "en": "service"},
        "stats.figure": {"zh": "指标", "en": "figure"},
        "stats.value": {"zh": "数值", "en": "value"},
        "stats.unreachable": {"zh": "无法连接：{error}", "en": "unreachable: {error}"},
        "stats.disputes_resolved": {"zh": "纠纷化解", "en": "disputes resolved"},
        "stats.kg_redistributed": {"zh": "危化品调剂（kg）", "en": "kg redistributed"},
        "stats.fraud_dissuaded": {"zh": "成功劝阻诈骗", "en": "fraud dissuaded"},
        "stats.yuan_protected": {"zh": "挽回损失（元）", "en": "yuan protected"},
        "stats.visits_done": {"zh": "完成走访", "en": "visits done"},
        "stats.home_services_done": {"zh": "上门服务完成", "en": "home services done"},
        "stats.help": {
            "zh": "各服务 /stats 汇总，含派出所核心数据",
            "en": "every service's /stats in one table, with the station's headline figures",
        },
    }
)

HEADLINE = (
    "disputes_resolved",
    "kg_redistributed",
    "fraud_dissuaded",
    "yuan_protected",
    "visits_done",
    "home_services_done",
)


def default_urls() -> dict[str, str]:
    """Each service's base URL: `<SERVICE>_URL`, else loopback on `<SERVICE>_HTTP_PORT`."""
    return {
        name: os.environ.get(
            f"{name.upper()}_URL",
            f"http://127.0.0.1:{os.environ.get(f'{name.upper()}_HTTP_PORT', port)}",
        )
        for name, port in DEFAULT_PORTS.items()
    }


async def fetch_stats(
    urls: dict[str, str], *, newer_than: datetime | None = None, wait_s: float = FRESH_WAIT_S
) -> dict[str, dict[str, Any]]:
    """`{service: its /stats body}`; a service that does not answer gets `{"error": why}`.

    A service serves the figures it last computed, with their `as_of`: given `newer_than`,
    the figures of a service computed before it (or not yet) are asked again, for at most
    `wait_s`, so they include what happened before that moment."""

    async def one(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
        try:
            rsp = await client.get(url.rstrip("/") + "/stats")
            if rsp.status_code == httpx.codes.SERVICE_UNAVAILABLE:
                return {"error": "figures not computed yet", PENDING: True}
            rsp.raise_for_status()
            body = rsp.json()
        except (httpx.HTTPError, ValueError) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"[:200]}
        return body if isinstance(body, dict) else {"error": "not a JSON object"}

    def behind(body: dict[str, Any]) -> bool:
        if newer_than is None:
            return False
        if "error" in body:
            return body.get(PENDING) is True
        try:
            return datetime.fromisoformat(str(body.get("as_of"))) < newer_than
        except ValueError:
            return False

    deadline = time.monotonic() + wait_s
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        found = dict(
            zip(urls, await asyncio.gather(*(one(client, u) for u in urls.values())), strict=True)
        )
        while (late := [n for n, body in found.items() if behind(body)]) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(FRESH_POLL_S)  # recomputed within the service's interval
            again = await asyncio.gather(*(one(client, urls[n]) for n in late))
            found.update(zip(late, again, strict=True))
    return found


def _num(stats: Mapping[str, Any], service: str, *path: str) -> float:
    value: Any = stats.get(service) or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def headline(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, float | int]:
    """The station's headline figures from the services' `/stats` (0 where one is missing)."""
    return {
        "disputes_resolved": _num(stats, "mediation", "cases_by_state", "resolved"),
        "kg_redistributed": _num(stats, "enterprise", "kg_redistributed"),
        "fraud_dissuaded": _num(stats, "outreach", "fraud_dissuaded"),
        "yuan_protected": _num(stats, "outreach", "fraud_dissuaded_yuan"),
        "visits_done": _num(stats, "outreach", "visits_by_state", "completed"),
        "home_services_done": _num(stats, "outreach", "home_services_by_state", "completed"),
    }


def number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested figures as `a.b` rows; lists and leaves as text."""
    if isinstance(value, dict) and value:
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows.extend(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(value, bool) or value is None:
        return [(prefix, str(value).lower() if value is not None else "-")]
    if isinstance(value, int | float):
        return [(prefix, number(value))]
    if isinstance(value, dict):
        return [(prefix, "-")]
    return [
        (prefix, json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value))
    ]


def render_stats(
    stats: Mapping[str, Mapping[str, Any]], lang: Lang = DEFAULT_LANG
) -> RenderableType:
    """The headline table, then one table of every service's figures."""
    head = Table(title=t("stats.title", lang), title_style="bold", show_header=False)
    head.add_column(style="bold")
    head.add_column(justify="right", style="bold green")
    for key, value in headline(stats).items():
        head.add_row(t(f"stats.{key}", lang), number(value))
    table = Table(title=t("stats.services", lang), title_style="bold")
    table.add_column(t("stats.service", lang), style="bold")
    table.add_column(t("stats.figure", lang))
    table.add_column(t("stats.value", lang), justify="right")
    for service, body in stats.items():
        if "error" in body:
            table.add_row(
                service, t("stats.unreachable", lang, error=body["error"]), "", style="red"
            )
            continue
        rows = [(k, v) for k, v in _flatten(dict(body)) if k != "service"]
        for i, (key, shown) in enumerate(rows):
            table.add_row(service if i == 0 else "", key, shown, end_section=i == len(rows) - 1)
    return Group(head, table)


def register(app: typer.Typer) -> None:
    @app.command("stats", help=t("stats.help"))
    def stats_command(
        json_out: Annotated[bool, typer.Option("--json", help="JSON for machines")] = False,
        lang: LangOption = DEFAULT_LANG,
    ) -> None:
        found = asyncio.run(fetch_stats(default_urls()))
        if json_out:
            typer.echo(
                json.dumps({"headline": headline(found), "services": found}, ensure_ascii=False)
            )
        else:
            Console().print(render_stats(found, check_lang(lang)))
        if any("error" in body for body in found.values()):
            raise typer.Exit(1)
