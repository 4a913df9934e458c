"""The report's charts with matplotlib: each one as SVG (inlined in the HTML page, its text
left as text so the reader's browser draws the Chinese) and as PNG (a file beside it).

A PNG draws its text with the fonts matplotlib finds. Where no CJK font is installed
(`apt-get install fonts-noto-cjk` adds one) the PNGs are labelled in English rather than
with empty boxes; the HTML page stays in the language asked for.
"""

import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)
COLOURS = ("#1f6feb", "#f0883e", "#3fb950", "#a371f7", "#db61a2", "#8b949e")


@cache
def cjk_font() -> str | None:
    """The first installed font family that can draw Chinese, if any."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in installed), None)


@dataclass(frozen=True)
class Bars:
    """Grouped bars: one group per category, one bar per series."""

    title: str
    categories: Sequence[str]
    series: Sequence[tuple[str, Sequence[float]]]
    ylabel: str = ""


@dataclass(frozen=True)
class Chart:
    name: str  # file name without extension
    svg: str
    png: bytes


def _draw(bars: Bars, font: str | None) -> Figure:
    families = [font] if font else []
    with plt.rc_context({"font.family": [*families, "DejaVu Sans"], "svg.fonttype": "none"}):
        width = max(6.0, min(14.0, 1.0 + 0.6 * len(bars.categories) * max(1, len(bars.series))))
        fig = Figure(figsize=(width, 3.6), layout="constrained")
        ax = fig.subplots()
        n = max(1, len(bars.series))
        step = 0.8 / n
        positions = range(len(bars.categories))
        for i, (label, values) in enumerate(bars.series):
            xs = [p - 0.4 + step * (i + 0.5) for p in positions]
            drawn = ax.bar(xs, values, width=step, label=label, color=COLOURS[i % len(COLOURS)])
            ax.bar_label(drawn, labels=[_short(v) for v in values], fontsize=7, padding=1)
        ax.set_xticks(list(positions), list(bars.categories), rotation=30 if n > 2 else 0)
        ax.set_title(bars.title)
        ax.set_ylabel(bars.ylabel)
        ax.spines[["top", "right"]].set_visible(False)
        if not bars.categories:
            ax.text(0.5, 0.5, "-", ha="center", va="center", transform=ax.transAxes)
        if len(bars.series) > 1:
            ax.legend(frameon=False, fontsize=8)
    return fig


def _short(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def render(name: str, html_bars: Bars, png_bars: Bars) -> Chart:
    """The chart as SVG from `html_bars` and as PNG from `png_bars` (the same figures,
    labelled in a language the installed fonts can draw)."""
    svg = io.StringIO()
    with warnings.catch_warnings():
        # the SVG's text is drawn by the browser, with its own fonts
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        _draw(html_bars, cjk_font()).savefig(svg, format="svg")
    png = io.BytesIO()
    _draw(png_bars, cjk_font()).savefig(png, format="png", dpi=120)
    text = re.sub(r"<metadata>.*?</metadata>", "", svg.getvalue(), flags=re.DOTALL)
    return Chart(name, text[text.index("<svg") :], png.getvalue())
