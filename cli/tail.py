# ruff: noqa: RUF001
"""`station tail`: every events topic live, one coloured line per event (cli/render.py).

Filters: `--type` (a glob on the type: `enterprise.*`, `*.command_rejected`, or just the
name after the dot: `over_capacity_detected`), `--subject`, `--correlation` (the full id
or its first characters, as the lines show it); `--json` prints one JSON object a line.
"""

import asyncio
import sys
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Annotated

import typer
from rich.console import Console

from cli.events import Event, as_json, follow, skipped_note
from cli.i18n import DEFAULT_LANG, Lang, labels, t
from cli.options import BootstrapOption, LangOption, check_lang, default_bootstrap
from cli.render import event_line, json_shown
from cli.topics import events_topics, intake_topics

labels(
    {
        "tail.help": {
            "zh": "实时跟踪所有事件主题，每个事件一行",
            "en": "follow every events topic live, one line per event",
        },
        "tail.following": {
            "zh": "正在跟踪 {topics}（Ctrl-C 退出）",
            "en": "following {topics} (Ctrl-C to stop)",
        },
    }
)


def matches(
    event: Event,
    types: Sequence[str] = (),
    subject: str | None = None,
    correlation: str | None = None,
) -> bool:
    """True when the event passes every filter given (types: any of them)."""
    if types and not any(
        fnmatchcase(event.type, pattern) or event.type.partition(".")[2] == pattern
        for pattern in types
    ):
        return False
    if subject is not None and event.subject != subject:
        return False
    return correlation is None or event.correlation.startswith(correlation)


def topics_for(commands: bool, dead_letters: bool) -> tuple[str, ...]:
    topics = [*events_topics(), *(intake_topics() if commands else ())]
    if dead_letters:
        topics += [f"{topic}.dlq" for topic in (*intake_topics(), *events_topics())]
    return tuple(topics)


async def run_tail(
    bootstrap: str,
    topics: Sequence[str],
    *,
    types: Sequence[str],
    subject: str | None,
    correlation: str | None,
    json_out: bool,
    lang: Lang,
    from_beginning: bool,
    console: Console,
) -> None:
    skipped = 0
    try:
        async for event in follow(bootstrap, topics, from_beginning=from_beginning):
            skipped += event.problem is not None  # still shown: where it is, and why
            if not matches(event, types, subject, correlation):
                continue
            if json_out:
                sys.stdout.write(json_shown(as_json(event)) + "\n")
                sys.stdout.flush()
            else:
                console.print(event_line(event, lang), soft_wrap=True, highlight=False)
    finally:
        if note := skipped_note(skipped, lang):
            Console(stderr=True).print(note, style="yellow")


def register(app: typer.Typer) -> None:
    @app.command("tail", help=t("tail.help"))
    def tail_command(  # noqa: PLR0917 - one parameter per option
        type_: Annotated[
            list[str] | None,
            typer.Option("--type", "-t", help="event type or glob (repeatable)"),
        ] = None,
        subject: Annotated[str | None, typer.Option("--subject", "-s")] = None,
        correlation: Annotated[
            str | None, typer.Option("--correlation", "-c", help="correlation id or its start")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
        from_beginning: Annotated[
            bool, typer.Option("--from-beginning", help="replay the topics first")
        ] = False,
        commands: Annotated[
            bool, typer.Option("--commands", help="also the intake topics (commands)")
        ] = False,
        dead_letters: Annotated[bool, typer.Option("--dlq", help="also the .dlq topics")] = False,
        bootstrap: BootstrapOption = None,
        lang: LangOption = DEFAULT_LANG,
    ) -> None:
        language = check_lang(lang)
        console = Console(highlight=False)
        topics = topics_for(commands, dead_letters)
        if not json_out:
            Console(stderr=True).print(
                t("tail.following", language, topics=", ".join(topics)), style="dim"
            )
        try:
            asyncio.run(
                run_tail(
                    bootstrap or default_bootstrap(),
                    topics,
                    types=type_ or [],
                    subject=subject,
                    correlation=correlation,
                    json_out=json_out,
                    lang=language,
                    from_beginning=from_beginning,
                    console=console,
                )
            )
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
