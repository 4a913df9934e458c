"""`station report --from DATE --to DATE`: the station's figures over a period, as one
self-contained HTML page with charts, and the charts as PNG files beside it.

Built from the events topics (`report_figures.py`), never from the services' databases:
fraud dissuaded and yuan protected per block and week, visits done against planned per
block, disputes opened and resolved per category with the median days to resolution, kg
redistributed and escalated per chemical, notifications sent and failed.
"""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.events import EVENTS_TOPICS, read_all, skipped_note
from cli.i18n import DEFAULT_LANG, Lang, labels, t
from cli.options import BootstrapOption, LangOption, check_lang, default_bootstrap
from cli.report_charts import cjk_font
from cli.report_figures import CST, Figures, count
from cli.report_page import charts, page

labels(
    {
        "report.help": {
            "zh": "某一期间的派出所数据：含图表的独立 HTML 报告，图表另存为 PNG",
            "en": "the station's figures over a period: one HTML page with charts, charts as PNG",
        },
        "report.written": {"zh": "报告已生成：{path}", "en": "Report written: {path}"},
        "report.bad_period": {
            "zh": "--from 不能晚于 --to",
            "en": "--from must not be after --to",
        },
    }
)


def write_report(
    figures: Figures, out: Path, lang: Lang, made: datetime | None = None
) -> list[Path]:
    """`out/report.html` and one PNG per chart; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    drawn = charts(figures, lang)
    html = out / "report.html"
    html.write_text(page(figures, drawn, lang, made or datetime.now(UTC) + CST), encoding="utf-8")
    written = [html]
    for chart in drawn:
        png = out / f"{chart.name}.png"
        png.write_bytes(chart.png)
        written.append(png)
    return written


async def build(bootstrap: str, start: date, end: date) -> Figures:
    return count(await read_all(bootstrap, EVENTS_TOPICS), start, end)


def register(app: typer.Typer) -> None:
    @app.command("report", help=t("report.help"))
    def report_command(
        start: Annotated[
            datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first day (YYYY-MM-DD)")
        ],
        end: Annotated[
            datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last day, included")
        ],
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", help="folder for report.html and the PNGs (default: report-FROM-TO)"
            ),
        ] = None,
        bootstrap: BootstrapOption = None,
        lang: LangOption = DEFAULT_LANG,
    ) -> None:
        chosen = check_lang(lang)
        if start > end:
            raise typer.BadParameter(t("report.bad_period", chosen))
        first, last = start.date(), end.date()
        figures = asyncio.run(build(bootstrap or default_bootstrap(), first, last))
        folder = out or Path(f"report-{first}-{last}")
        written = write_report(figures, folder, chosen)
        console = Console()
        if note := skipped_note(figures.unreadable, chosen):
            console.print(note, style="yellow")
        if chosen == "zh" and not cjk_font():
            console.print(t("report.png_english", chosen), style="yellow")
        for path in written:
            console.print(t("report.written", chosen, path=path))
