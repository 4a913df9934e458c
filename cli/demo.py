"""`station demo`: the handbook's five seed stories played into a running stack.

Each story sends its commands to the intake topics, waits for the facts the services
answer with (reacting to what they decided), narrates each step under a progress bar,
then prints its whole chain (`station story`). At the end the station's figures
(`station stats`). A story that does not complete within its timeout, or whose command
is refused, fails the demo (exit code 1); the next story is still played.
"""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.rule import Rule

from cli.events import skipped_note
from cli.i18n import DEFAULT_LANG, Lang, labels, t
from cli.options import BootstrapOption, LangOption, check_lang, default_bootstrap
from cli.stats import default_urls, fetch_stats, render_stats
from cli.stories import STORIES, Story
from cli.stories.stage import Stage, StoryFailed, Watch
from cli.story import build_story, render_story

labels(
    {
        "demo.help": {
            "zh": "把五个示范故事送入运行中的系统，逐步显示进展、事件链与最终数据",
            "en": "play the five seed stories into a running stack: progress, chains, figures",
        },
        "demo.start": {
            "zh": "示范运行 {run}：{count} 个故事，连接 Kafka {bootstrap}",
            "en": "Demo run {run}: {count} stories, Kafka at {bootstrap}",
        },
        "demo.story": {"zh": "故事 {n}/{count}：{title}", "en": "Story {n}/{count}: {title}"},
        "demo.done": {"zh": "完成（{seconds:.1f} 秒）", "en": "done ({seconds:.1f} s)"},
        "demo.timeout": {
            "zh": "超时：{seconds:.0f} 秒内未完成",
            "en": "timed out: not complete within {seconds:.0f} s",
        },
        "demo.failed": {"zh": "失败：{error}", "en": "failed: {error}"},
        "demo.chain": {
            "zh": "事件链（station story {correlation}）",
            "en": "Chain (station story {correlation})",
        },
        "demo.figures": {"zh": "派出所数据", "en": "The station's figures"},
        "demo.summary": {
            "zh": "{ok}/{count} 个故事完成",
            "en": "{ok}/{count} stories complete",
        },
    }
)


@dataclass(frozen=True)
class Outcome:
    story: Story
    correlation: str
    ok: bool
    seconds: float
    error: str = ""


async def run_demo(
    bootstrap: str,
    *,
    console: Console,
    lang: Lang = DEFAULT_LANG,
    timeout_s: float = 90.0,
    stories: Sequence[Story] = STORIES,
    run: str | None = None,
    stats_urls: dict[str, str] | None = None,
) -> list[Outcome]:
    """Play `stories` one after the other; print each one's chain, then the figures."""
    run = run or secrets.token_hex(3)
    console.print(
        t("demo.start", lang, run=run, count=len(stories), bootstrap=bootstrap), style="bold"
    )
    outcomes: list[Outcome] = []
    async with Watch(bootstrap) as watch:
        for n, story in enumerate(stories, 1):
            title = t(story.title, lang)
            console.print(Rule(t("demo.story", lang, n=n, count=len(stories), title=title)))
            outcome = await _play(
                watch, story, run=run, lang=lang, console=console, timeout_s=timeout_s
            )
            outcomes.append(outcome)
            console.print(t("demo.chain", lang, correlation=outcome.correlation), style="dim")
            console.print(render_story(build_story(watch.events, outcome.correlation), lang))
        if note := skipped_note(watch.unreadable, lang):
            console.print(note, style="yellow")
    console.print(Rule(t("demo.figures", lang)))
    # the services' figures computed after the last story ended include all of them
    ended = datetime.now(UTC)
    figures = await fetch_stats(stats_urls or default_urls(), newer_than=ended)
    console.print(render_stats(figures, lang))
    ok = sum(o.ok for o in outcomes)
    console.print(
        t("demo.summary", lang, ok=ok, count=len(outcomes)),
        style="bold green" if ok == len(outcomes) else "bold red",
    )
    return outcomes


async def _play(
    watch: Watch, story: Story, *, run: str, lang: Lang, console: Console, timeout_s: float
) -> Outcome:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(t(story.title, lang), total=story.steps)
        stage = Stage(
            watch,
            run=run,
            story=story.key,
            lang=lang,
            say=lambda text: progress.console.print(f"  [green]✓[/green] {text}"),
            step=lambda: progress.advance(task),
        )
        try:
            async with asyncio.timeout(timeout_s):
                await story.play(stage)
        except TimeoutError:
            error = t("demo.timeout", lang, seconds=timeout_s)
        except StoryFailed as exc:
            error = t("demo.failed", lang, error=exc)
        else:
            progress.update(task, completed=story.steps)
            seconds = loop.time() - started
            progress.console.print(f"  [bold green]{t('demo.done', lang, seconds=seconds)}[/]")
            return Outcome(story, stage.correlation, ok=True, seconds=seconds)
        progress.console.print(f"  [bold red]✗ {escape(error)}[/]")
        return Outcome(
            story, stage.correlation, ok=False, seconds=loop.time() - started, error=error
        )


def register(app: typer.Typer) -> None:
    @app.command("demo", help=t("demo.help"))
    def demo_command(
        bootstrap: BootstrapOption = None,
        lang: LangOption = DEFAULT_LANG,
        timeout: Annotated[
            float, typer.Option("--timeout", help="seconds each story may take / 每个故事的时限")
        ] = 90.0,
        only: Annotated[
            list[str] | None,
            typer.Option(
                "--story", help="play only these stories: " + ", ".join(s.key for s in STORIES)
            ),
        ] = None,
        run: Annotated[
            str | None, typer.Option("--run", help="the run's tag in every id (default: random)")
        ] = None,
    ) -> None:
        chosen = [s for s in STORIES if not only or s.key in only]
        unknown = set(only or ()) - {s.key for s in STORIES}
        if unknown:
            raise typer.BadParameter(f"unknown stories: {', '.join(sorted(unknown))}")
        outcomes = asyncio.run(
            run_demo(
                bootstrap or default_bootstrap(),
                console=Console(),
                lang=check_lang(lang),
                timeout_s=timeout,
                stories=chosen,
                run=run,
            )
        )
        if not all(o.ok for o in outcomes):
            raise typer.Exit(1)
