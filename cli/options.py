"""Options every command shares: where Kafka is, and the language."""

import os
from typing import Annotated

import typer

from cli.i18n import DEFAULT_LANG, Lang

FALLBACK_BOOTSTRAP = "127.0.0.1:19092"


def default_bootstrap() -> str:
    """`KAFKA_BOOTSTRAP_SERVERS`, else the local infrastructure's Kafka (`make stack`,
    `scripts/infra up`), else 127.0.0.1:19092."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        return configured
    try:
        from infra.places import Endpoints
    except ImportError:  # installed without the repository's infra package
        return FALLBACK_BOOTSTRAP
    return Endpoints.from_environment().kafka_bootstrap_servers


def check_lang(value: str) -> Lang:
    if value == "zh":
        return "zh"
    if value == "en":
        return "en"
    raise typer.BadParameter(f"zh or en, not {value!r}")


LangOption = Annotated[str, typer.Option("--lang", help="zh (默认) | en", callback=check_lang)]
BootstrapOption = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or the local stack's)",
    ),
]
LANG_DEFAULT: str = DEFAULT_LANG
