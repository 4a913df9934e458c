"""The `station` command: each sub-command lives in its own module and registers itself."""

import asyncio
import sys

import typer
from aiokafka.errors import KafkaConnectionError

from cli import demo, erase, report, stats, story, submit, tail
from cli.options import default_bootstrap, kafka_identity
from shared._kit.kafka_client import KafkaClientConfigError, refused_credentials

app = typer.Typer(no_args_is_help=True, add_completion=False, help="县派出所 · 运维工具")

for module in (submit, tail, story, stats, report, demo, erase):
    module.register(app)


def main() -> None:
    try:
        app()
    except KafkaClientConfigError as exc:
        print(f"station: {exc}", file=sys.stderr)
        sys.exit(2)
    except KafkaConnectionError as exc:
        # aiokafka says "Unable to bootstrap" for a refused password too: ask once more
        bootstrap, who = default_bootstrap(), kafka_identity()
        refused = asyncio.run(refused_credentials(bootstrap, who))
        reason = refused or f"{exc} (client: {who.describe()})"
        print(f"station: Kafka at {bootstrap}: {reason}", file=sys.stderr)
        sys.exit(1)
