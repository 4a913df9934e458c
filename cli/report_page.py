"""The report as one self-contained HTML page (charts inlined as SVG, no outside resource)
and its charts as PNG files."""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

from collections.abc import Callable
from datetime import datetime
from html import escape

from cli.facts import word
from cli.i18n import Lang, labels, t
from cli.report_charts import Bars, Chart, cjk_font, render
from cli.report_figures import Figures

labels(
    {
        "report.title": {"zh": "县派出所工作数据报告", "en": "County police station report"},
        "report.period": {
            "zh": "统计期间：{start} 至 {end}（北京时间），共 {facts} 条事实，生成于 {now}",
            "en": "Period: {start} to {end} (China Standard Time), {facts} facts, made {now}",
        },
        "report.source": {
            "zh": "数据来源：Kafka 事件主题（enterprise/outreach/mediation/notifier.events）",
            "en": "Source: the Kafka events topics (enterprise/outreach/mediation/notifier.events)",
        },
        "report.headline": {"zh": "核心数据", "en": "Headline"},
        "report.fraud": {
            "zh": "反诈劝阻（按街区、周）",
            "en": "Fraud dissuaded (by block and week)",
        },
        "report.fraud_count": {"zh": "劝阻次数", "en": "dissuaded"},
        "report.fraud_yuan": {"zh": "挽回金额（元）", "en": "yuan protected"},
        "report.visits": {"zh": "走访（完成/计划，按街区）", "en": "Visits done against planned"},
        "report.visits_done": {"zh": "已完成", "en": "done"},
        "report.visits_planned": {"zh": "计划", "en": "planned"},
        "report.disputes": {"zh": "纠纷调解（按类别）", "en": "Disputes by category"},
        "report.opened": {"zh": "受理", "en": "opened"},
        "report.resolved": {"zh": "化解", "en": "resolved"},
        "report.escalated": {"zh": "升级", "en": "escalated"},
        "report.median_days": {"zh": "化解用时中位数（天）", "en": "median days to resolution"},
        "report.chemicals": {"zh": "危化品调剂（按品种）", "en": "Hazardous chemicals by chemical"},
        "report.kg_redistributed": {"zh": "已调剂（千克）", "en": "kg redistributed"},
        "report.kg_escalated": {"zh": "升级处置（千克）", "en": "kg escalated"},
        "report.notifications": {"zh": "通知（按模板）", "en": "Notifications by template"},
        "report.sent": {"zh": "已发送", "en": "sent"},
        "report.failed": {"zh": "失败", "en": "failed"},
        "report.block": {"zh": "街区", "en": "block"},
        "report.week": {"zh": "周", "en": "week"},
        "report.category": {"zh": "类别", "en": "category"},
        "report.chemical": {"zh": "品种", "en": "chemical"},
        "report.template": {"zh": "模板", "en": "template"},
        "report.none": {"zh": "本期无数据", "en": "nothing in this period"},
        "report.fraud_dissuaded": {"zh": "成功劝阻诈骗", "en": "fraud dissuaded"},
        "report.yuan_protected": {"zh": "挽回损失（元）", "en": "yuan protected"},
        "report.disputes_resolved": {"zh": "纠纷化解", "en": "disputes resolved"},
        "report.disputes_opened": {"zh": "纠纷受理", "en": "disputes opened"},
        "report.notifications_sent": {"zh": "通知发送", "en": "notifications sent"},
        "report.notifications_failed": {"zh": "通知失败", "en": "notifications failed"},
        "report.png_english": {
            "zh": "未找到中文字体，PNG 图表使用英文标注（安装 fonts-noto-cjk 后为中文）",
            "en": "",
        },
    }
)

Section = tuple[str, Callable[[Figures, Lang], Bars], Callable[[Figures, Lang], str]]


def _fraud_bars(f: Figures, lang: Lang) -> Bars:
    blocks = sorted({b for b, _ in f.fraud})
    weeks = sorted({w for _, w in f.fraud})
    return Bars(
        t("report.fraud", lang) + " · " + t("report.fraud_yuan", lang),
        blocks,
        [
            (w, [float(f.fraud[(b, w)].yuan) if (b, w) in f.fraud else 0.0 for b in blocks])
            for w in weeks
        ],
    )


def _fraud_table(f: Figures, lang: Lang) -> str:
    rows = [[b, w, f"{c.dissuaded:,}", f"{c.yuan:,}"] for (b, w), c in sorted(f.fraud.items())]
    heads = ("report.block", "report.week", "report.fraud_count", "report.fraud_yuan")
    return _table([t(h, lang) for h in heads], rows, lang)


def _visit_bars(f: Figures, lang: Lang) -> Bars:
    blocks = sorted(f.visits)
    return Bars(
        t("report.visits", lang),
        blocks,
        [
            (t("report.visits_done", lang), [float(len(f.visits[b].done)) for b in blocks]),
            (t("report.visits_planned", lang), [float(len(f.visits[b].planned)) for b in blocks]),
        ],
    )


def _visit_table(f: Figures, lang: Lang) -> str:
    rows = [[b, f"{len(v.done):,}", f"{len(v.planned):,}"] for b, v in sorted(f.visits.items())]
    heads = ("report.block", "report.visits_done", "report.visits_planned")
    return _table([t(h, lang) for h in heads], rows, lang)


def _dispute_bars(f: Figures, lang: Lang) -> Bars:
    cats = sorted(f.disputes)
    return Bars(
        t("report.disputes", lang),
        [word(c, lang) for c in cats],
        [
            (t("report.opened", lang), [float(f.disputes[c].opened) for c in cats]),
            (t("report.resolved", lang), [float(f.disputes[c].resolved) for c in cats]),
        ],
    )


def _dispute_table(f: Figures, lang: Lang) -> str:
    rows = [
        [
            word(c, lang),
            str(d.opened),
            str(d.resolved),
            str(d.escalated),
            "-" if d.median_days is None else f"{d.median_days:.1f}",
        ]
        for c, d in sorted(f.disputes.items())
    ]
    heads = (
        "report.category",
        "report.opened",
        "report.resolved",
        "report.escalated",
        "report.median_days",
    )
    return _table([t(h, lang) for h in heads], rows, lang)


def _chemical_name(f: Figures, cas: str, lang: Lang) -> str:
    c = f.chemicals[cas]
    return f"{c.name_zh if lang == 'zh' else c.name_en} ({cas})"


def _chemical_bars(f: Figures, lang: Lang) -> Bars:
    cas = sorted(f.chemicals)
    return Bars(
        t("report.chemicals", lang),
        [_chemical_name(f, c, lang) for c in cas],
        [
            (t("report.kg_redistributed", lang), [f.chemicals[c].redistributed_kg for c in cas]),
            (t("report.kg_escalated", lang), [f.chemicals[c].escalated_kg for c in cas]),
        ],
        ylabel="kg",
    )


def _chemical_table(f: Figures, lang: Lang) -> str:
    rows = [
        [_chemical_name(f, c, lang), f"{v.redistributed_kg:,.0f}", f"{v.escalated_kg:,.0f}"]
        for c, v in sorted(f.chemicals.items())
    ]
    heads = ("report.chemical", "report.kg_redistributed", "report.kg_escalated")
    return _table([t(h, lang) for h in heads], rows, lang)


def _notification_bars(f: Figures, lang: Lang) -> Bars:
    names = sorted(f.notifications)
    return Bars(
        t("report.notifications", lang),
        [word(n, lang) for n in names],
        [
            (t("report.sent", lang), [float(f.notifications[n].sent) for n in names]),
            (t("report.failed", lang), [float(f.notifications[n].failed) for n in names]),
        ],
    )


def _notification_table(f: Figures, lang: Lang) -> str:
    rows = [[word(n, lang), str(v.sent), str(v.failed)] for n, v in sorted(f.notifications.items())]
    heads = ("report.template", "report.sent", "report.failed")
    return _table([t(h, lang) for h in heads], rows, lang)


SECTIONS: tuple[Section, ...] = (
    ("fraud", _fraud_bars, _fraud_table),
    ("visits", _visit_bars, _visit_table),
    ("disputes", _dispute_bars, _dispute_table),
    ("chemicals", _chemical_bars, _chemical_table),
    ("notifications", _notification_bars, _notification_table),
)
HEADLINE = (
    "fraud_dissuaded",
    "yuan_protected",
    "visits_done",
    "visits_planned",
    "disputes_opened",
    "disputes_resolved",
    "median_days",
    "kg_redistributed",
    "kg_escalated",
    "notifications_sent",
    "notifications_failed",
)


def _table(heads: list[str], rows: list[list[str]], lang: Lang) -> str:
    if not rows:
        return f'<p class="none">{escape(t("report.none", lang))}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def charts(figures: Figures, lang: Lang) -> list[Chart]:
    png_lang: Lang = lang if lang == "en" or cjk_font() else "en"
    return [
        render(name, bars(figures, lang), bars(figures, png_lang)) for name, bars, _ in SECTIONS
    ]


def page(figures: Figures, drawn: list[Chart], lang: Lang, made: datetime) -> str:
    """The whole report as one HTML document."""
    totals = figures.totals()
    head_keys = {
        "visits_done": "report.visits_done",
        "visits_planned": "report.visits_planned",
        "median_days": "report.median_days",
        "kg_redistributed": "report.kg_redistributed",
        "kg_escalated": "report.kg_escalated",
    }
    cards = "".join(
        f'<div class="card"><div class="n">{totals[k]:,.{1 if k == "median_days" else 0}f}</div>'
        f"<div>{escape(t(head_keys.get(k, f'report.{k}'), lang))}</div></div>"
        for k in HEADLINE
    )
    sections = "".join(
        f'<section id="{name}"><h2>{escape(t(f"report.{name}", lang))}</h2>'
        f'<div class="chart">{chart.svg}</div>{table(figures, lang)}</section>'
        for (name, _, table), chart in zip(SECTIONS, drawn, strict=True)
    )
    period = t(
        "report.period",
        lang,
        start=figures.start.isoformat(),
        end=figures.end.isoformat(),
        facts=figures.facts,
        now=made.strftime("%Y-%m-%d %H:%M"),
    )
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<title>{escape(t("report.title", lang))} {figures.start} – {figures.end}</title>
<style>
body{{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;
max-width:1100px;color:#1f2328;padding:0 1em}}
h1{{margin-bottom:.2em}} .meta{{color:#656d76;font-size:.9em}}
.cards{{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}}
.card{{border:1px solid #d0d7de;border-radius:8px;padding:.6em 1em;min-width:9em}}
.card .n{{font-size:1.6em;font-weight:bold;color:#1f6feb}}
table{{border-collapse:collapse;margin:.5em 0 2em}} td,th{{border:1px solid #d0d7de;
padding:.3em .8em;text-align:right}} th{{background:#f6f8fa}} td:first-child{{text-align:left}}
.chart svg{{max-width:100%;height:auto}} .none{{color:#656d76}}
</style></head><body>
<h1>{escape(t("report.title", lang))}</h1>
<p class="meta">{escape(period)}<br>{escape(t("report.source", lang))}</p>
<h2>{escape(t("report.headline", lang))}</h2><div class="cards">{cards}</div>
{sections}
</body></html>
"""
