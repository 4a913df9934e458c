"""Drawing a story as a rich Tree, and the `story` command's labels."""

# ruff: noqa: RUF001

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from rich.text import Text
from rich.tree import Tree

from cli.facts import type_name
from cli.i18n import Lang, labels, t
from cli.keyfacts import key_fact
from cli.render import LOUD_TYPES, SERVICE_STYLES, brief, service_of, short, shown, verb_of

if TYPE_CHECKING:
    from cli.story import StoryNode

labels(
    {
        "story.title": {"zh": "事件链 {cid}", "en": "story {cid}"},
        "story.summary": {
            "zh": "{steps} 步 · {services} 个服务 · 历时 {took}",
            "en": "{steps} steps · {services} service(s) · {took}",
        },
        "story.empty": {"zh": "（没有事件）", "en": "(no events)"},
        "story.orphan": {"zh": "起因不在主题上", "en": "cause not on the topics"},
        "story.command": {"zh": "指令", "en": "command"},
        "story.rejected": {"zh": "被拒", "en": "rejected"},
    }
)
SLOW = timedelta(seconds=2)


def took(delta: timedelta) -> str:
    """`0.21 s`, `12.3 s`, `4 min 02 s`, `3 h 05 min` (a step can wait for a timer)."""
    seconds = delta.total_seconds()
    if abs(seconds) < 10:
        return f"{seconds:.2f} s"
    if abs(seconds) < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _label(node: StoryNode, lang: Lang, root: bool) -> Text:
    e = node.event
    assert e is not None
    text = Text()
    if node.elapsed is None:
        text.append(e.at.astimezone().strftime("%m-%d %H:%M:%S"), style="dim")
    else:
        style = "yellow" if node.elapsed >= SLOW else "green"
        text.append(f"+{took(node.elapsed)}", style=style)
    text.append(" ")
    service = service_of(e)
    text.append(shown(service), style=SERVICE_STYLES.get(service, ""))
    text.append(" ")
    verb = verb_of(e)
    if verb == "command":
        text.append(f"[{t('story.command', lang)}] ", style="bold blue")
    name_style = LOUD_TYPES.get(e.type, "bold")
    if verb == "rejected":
        name_style = "bold red"
    text.append(shown(type_name(e.type, lang)), style=name_style)
    if e.subject:
        text.append(f"  {shown(brief(e.subject))}", style="cyan dim")
    fact = key_fact(e.type, e.data, lang)
    if fact:
        text.append(f"  {shown(fact)}")
    if root and verb != "command" and e.causationid:
        orphan = f"  ({t('story.orphan', lang)}: {shown(short(e.causationid))})"
        text.append(orphan, style="dim")
    return text


def story_tree(story: StoryNode, lang: Lang) -> Tree:
    """The tree under a title naming the story, its size and how long it took."""
    events = story.events()
    title = Text(t("story.title", lang, cid=shown(story.correlation_id)), style="bold")
    if events:
        first = min(e.timestamp for e in events)
        last = max(e.timestamp for e in events)
        summary = t(
            "story.summary",
            lang,
            steps=len(events),
            services=len({service_of(e) for e in events}),
            took=took(last - first),
        )
        title.append(f"  {summary}", style="dim")
    else:
        title.append(f"  {t('story.empty', lang)}", style="dim")
    tree = Tree(title, guide_style="dim")

    def add(branch: Tree, node: StoryNode, root: bool) -> None:
        sub = branch.add(_label(node, lang, root))
        for child in node.children:
            add(sub, child, root=False)

    for root in story.children:
        add(tree, root, root=True)
    return tree
