# ruff: noqa: RUF001
"""`station erase --phone … | --id-number …`: erase one resident from every service.

One erasure id; each service gets its `<service>.erase_person` on its intake and answers
with `<service>.person_erased` (how many of its records it anonymised, no personal data)
or `command_rejected`. The events topics are read from their end before anything is
sent, so no answer is missed; the command waits for all four (exit 1 on a refusal or
when one does not answer in time).
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from cli.events import SERVICES, Event, _assign, _consumer, parse
from cli.i18n import DEFAULT_LANG, labels, t
from cli.options import BootstrapOption, LangOption, check_lang, default_bootstrap
from cli.render import shown
from cli.submit import publish
from cli.submit_check import SOURCE
from cli.topics import prefix
from shared._kit.envelope import CloudEvent
from shared._kit.erasure import EraseOrder

DEFAULT_TIMEOUT_S = 60.0

labels(
    {
        "erase.help": {
            "zh": "按电话或身份证号删除一位居民在各服务中的个人信息",
            "en": "erase one resident (by phone or ID number) from every service",
        },
        "erase.bad": {"zh": "无法删除：{why}", "en": "cannot erase: {why}"},
        "erase.done": {
            "zh": "{service}：已匿名化 {n} 条记录",
            "en": "{service}: {n} records anonymised",
        },
        "erase.refused": {
            "zh": "{service}：被拒绝（{reason}）",
            "en": "{service}: refused ({reason})",
        },
        "erase.silent": {"zh": "{service}：未在时限内答复", "en": "{service}: no answer in time"},
        "erase.id": {"zh": "删除 id", "en": "erasure id"},
    }
)


class _Order(EraseOrder, type="station.erase_person", subject="erasure_id"):
    """The services' erasure order, checked here before anything is sent."""


@dataclass
class Answers:
    """What each service answered to one erasure, as the events topics tell it."""

    erasure_id: str
    commands: dict[str, str]  # service -> command id
    erased: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def take(self, event: Event) -> None:
        service = next((s for s, p in _prefixes().items() if event.topic == f"{p}.events"), "")
        if service not in self.commands:
            return
        if (
            event.type == f"{service}.person_erased"
            and event.data.get("erasure_id") == self.erasure_id
        ):
            self.erased[service] = int(event.data.get("records_anonymised", 0))
        elif event.type == f"{service}.command_rejected" and (
            event.causationid == self.commands[service]
            or event.data.get("command_id") == self.commands[service]
        ):
            self.refused[service] = str(event.data.get("reason", "?"))

    @property
    def complete(self) -> bool:
        return set(self.erased) | set(self.refused) >= set(self.commands)

    @property
    def failed(self) -> list[str]:
        """The services that did not erase (a refusal counts only where no erasure came:
        a stray consumer of an intake topic may refuse what the service itself did)."""
        return [s for s in self.commands if s not in self.erased]


def _prefixes() -> dict[str, str]:
    return {s: prefix(s) for s in SERVICES}


def orders(order: EraseOrder) -> list[CloudEvent]:
    """One `<service>.erase_person` per service, all under the erasure's id."""
    data = order.model_dump(mode="json", exclude_none=True)
    now = datetime.now().astimezone()
    return [
        CloudEvent(
            id=str(uuid.uuid4()),
            source=SOURCE,
            type=f"{service}.erase_person",
            subject=order.erasure_id,
            time=now,
            correlationid=order.erasure_id,
            data=data,
        )
        for service in SERVICES
    ]


async def erase(bootstrap: str, order: EraseOrder, timeout_s: float) -> Answers:
    """Send the four orders and collect the answers until all came or `timeout_s` passed."""
    commands = orders(order)
    answers = Answers(order.erasure_id, {c.type.split(".")[0]: c.id for c in commands})
    consumer = _consumer(bootstrap)
    try:
        await consumer.start()
        parts = await _assign(consumer, [f"{p}.events" for p in _prefixes().values()])
        await consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end now: an answer after it is read
            await consumer.position(tp)
        await publish(bootstrap, commands)
        try:
            async with asyncio.timeout(timeout_s):
                while not answers.complete:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        for r in records:
                            answers.take(
                                parse(r.topic, r.partition, r.offset, r.timestamp, r.value)
                            )
        except TimeoutError:
            pass
    finally:
        await consumer.stop()
    return answers


def register(app: typer.Typer) -> None:
    @app.command("erase", help=t("erase.help"))
    def erase_command(
        phone: Annotated[str | None, typer.Option("--phone")] = None,
        id_number: Annotated[str | None, typer.Option("--id-number")] = None,
        timeout: Annotated[float, typer.Option("--timeout", min=1.0)] = DEFAULT_TIMEOUT_S,
        bootstrap: BootstrapOption = None,
        lang: LangOption = DEFAULT_LANG,
    ) -> None:
        language = check_lang(lang)
        out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
        try:
            order = _Order(
                erasure_id=f"erasure-{uuid.uuid4().hex[:16]}", phone=phone, id_number=id_number
            )
        except ValidationError as exc:
            why = "; ".join(e["msg"] for e in exc.errors())
            err.print(escape(t("erase.bad", language, why=why)), style="bold red")
            raise typer.Exit(2) from None
        answers = asyncio.run(erase(bootstrap or default_bootstrap(), order, timeout))
        out.print(f"{t('erase.id', language)} {answers.erasure_id}", highlight=False)
        for service in SERVICES:
            if service in answers.erased:
                line = t("erase.done", language, service=service, n=answers.erased[service])
                out.print(f"[green]✓[/] {escape(line)}", highlight=False)
            elif service in answers.refused:
                reason = shown(answers.refused[service])
                line = t("erase.refused", language, service=service, reason=reason)
                out.print(f"[red]✗[/] {escape(line)}", highlight=False)
            else:
                line = t("erase.silent", language, service=service)
                out.print(f"[red]✗[/] {escape(line)}", highlight=False)
        if answers.failed:
            raise typer.Exit(1)
