# ruff: noqa: RUF001
"""The `story` command itself (the model and the tree are in cli/story.py)."""

import asyncio
import sys
from typing import Annotated

import typer
from rich.console import Console

from cli.events import as_json, read_all, skipped_note, unreadable
from cli.i18n import DEFAULT_LANG, labels, t
from cli.options import BootstrapOption, LangOption, check_lang, default_bootstrap
from cli.render import json_shown, markup_shown
from cli.story import build_story, matching_correlations, render_story, story_topics

PIPE_WIDTH = 250

labels(
    {
        "story.help": {
            "zh": "按因果关系显示一个事件链（跨服务），含每步耗时",
            "en": "one story's whole chain across services, as a tree by causation",
        },
        "story.none": {
            "zh": "主题上没有关联 id 为 {cid} 的事件",
            "en": "no event on the topics has correlation id {cid}",
        },
        "story.ambiguous": {
            "zh": "{cid} 对应多个事件链，请给出更长的 id：",
            "en": "{cid} matches several stories; give more of the id:",
        },
    }
)


def register(app: typer.Typer) -> None:
    @app.command("story", help=t("story.help"))
    def story_command(
        correlation_id: Annotated[str, typer.Argument(help="correlation id, or its start")],
        json_out: Annotated[
            bool, typer.Option("--json", help="the story's events, one JSON object a line")
        ] = False,
        bootstrap: BootstrapOption = None,
        lang: LangOption = DEFAULT_LANG,
    ) -> None:
        language = check_lang(lang)
        err = Console(stderr=True)
        found = asyncio.run(read_all(bootstrap or default_bootstrap(), story_topics()))
        if note := skipped_note(unreadable(found), language):
            err.print(note, style="yellow")
        stories = matching_correlations(found, correlation_id)
        if not stories:
            err.print(t("story.none", language, cid=correlation_id), style="red")
            raise typer.Exit(1)
        if len(stories) > 1:
            err.print(t("story.ambiguous", language, cid=correlation_id), style="yellow")
            for cid in stories:
                err.print(f"  {markup_shown(cid)}")
            raise typer.Exit(2)
        story = build_story(found, stories[0])
        if json_out:
            for event in story.events():
                typer.echo(json_shown(as_json(event)))
            return
        # a file or a pipe gets whole lines; a terminal its own width
        width = None if sys.stdout.isatty() else PIPE_WIDTH
        Console(highlight=False, width=width).print(render_story(story, language))
