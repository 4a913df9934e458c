"""Options every command shares: where Kafka is, who the CLI is on it, and the language."""

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.i18n import DEFAULT_LANG, Lang
from shared._kit.kafka_client import KafkaIdentity, client_options, identity_from_environment

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


def _local_operators_file() -> Path | None:
    """The operators' client properties of the local stack, when it is running."""
    try:
        from infra.credentials import OPERATORS, properties_path
        from infra.places import current, running
    except ImportError:  # installed without the repository's infra package
        return None
    found = current()
    if found is None or found.data is None or None in running().values():
        return None
    return properties_path(found.data, OPERATORS)


def kafka_identity() -> KafkaIdentity:
    """`KAFKA_CLIENT_PROPERTIES` or `KAFKA_SASL_*` (shared/_kit/kafka_client.py), else the
    local stack's operators' file (`make stack`, `scripts/infra up`), else none."""
    return identity_from_environment(fallback=_local_operators_file())


def kafka_options(bootstrap: str) -> dict[str, Any]:
    """aiokafka's connection options for every client the CLI makes."""
    return client_options(bootstrap, kafka_identity())


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
