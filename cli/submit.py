# ruff: noqa: RUF001
"""`station submit FILE`: publish commands from a JSON or YAML file.

Every command is checked against the services' own models first (cli/submit_check.py);
an invalid file is refused as a whole, nothing sent, each problem named by line and
field. Then each command goes to its service's intake topic, keyed by its subject, and
its id and correlation id are printed (`station story <correlation id>` follows it).
"""

from pathlib import Path
from typing import Annotated

import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.markup import escape

from cli.i18n import DEFAULT_LANG, labels, t
from cli.options import BootstrapOption, LangOption, check_lang, default_bootstrap, kafka_options
from cli.submit_check import Problem, SubmitError, command_models, load_commands
from cli.topics import intake_topic
from shared._kit.envelope import CloudEvent, kafka_headers

__all__ = ["Problem", "SubmitError", "command_models", "load_commands", "publish", "register"]

labels(
    {
        "submit.help": {
            "zh": "从 JSON/YAML 文件提交指令（先全部校验，有误则一条不发）",
            "en": "publish commands from a JSON or YAML file "
            "(all checked first; none sent if any is wrong)",
        },
        "submit.refused": {
            "zh": "文件 {path} 被拒绝，未发送任何指令：",
            "en": "{path} refused, nothing was sent:",
        },
        "submit.sent": {"zh": "已发送 {n} 条指令", "en": "{n} commands sent"},
        "submit.checked": {
            "zh": "校验通过 {n} 条指令（未发送）",
            "en": "{n} commands valid (not sent)",
        },
        "submit.line": {"zh": "第 {line} 行", "en": "line {line}"},
        "submit.id": {"zh": "指令 id", "en": "command id"},
        "submit.correlation": {"zh": "关联 id", "en": "correlation id"},
        "submit.type": {"zh": "类型", "en": "type"},
        "submit.subject": {"zh": "对象", "en": "subject"},
    }
)


async def publish(bootstrap: str, commands: list[CloudEvent]) -> None:
    """Send every command to its intake topic, in order, and return once Kafka has all."""
    producer = AIOKafkaProducer(
        **kafka_options(bootstrap), acks="all", enable_idempotence=True, request_timeout_ms=15000
    )
    await producer.start()
    try:
        futures = [
            await producer.send(
                intake_topic(c.type), c.to_bytes(), key=c.key, headers=kafka_headers()
            )
            for c in commands
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


def register(app: typer.Typer) -> None:
    @app.command("submit", help=t("submit.help"))
    def submit_command(
        file: Annotated[Path, typer.Argument(help="JSON or YAML", exists=False)],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="check only")] = False,
        bootstrap: BootstrapOption = None,
        lang: LangOption = DEFAULT_LANG,
    ) -> None:
        import asyncio

        language = check_lang(lang)
        out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
        try:
            commands = load_commands(file)
        except SubmitError as exc:
            err.print(t("submit.refused", language, path=exc.path), style="bold red")
            for p in exc.problems:
                err.print(
                    f"  {escape(exc.path)}:{p.line}: "
                    f"[bold]{escape(p.where)}[/]: {escape(p.message)}",
                    highlight=False,
                )
            raise typer.Exit(2) from None
        if not dry_run:
            asyncio.run(publish(bootstrap or default_bootstrap(), commands))
        for c in commands:
            out.print(
                f"[green]✓[/] [bold]{c.type}[/]  [cyan]{escape(c.subject or '')}[/]  "
                f"{t('submit.id', language)} {c.id}  {t('submit.correlation', language)} "
                f"{c.correlation}",
                highlight=False,
                soft_wrap=True,
            )
        done = "submit.checked" if dry_run else "submit.sent"
        out.print(t(done, language, n=len(commands)), style="bold green")
