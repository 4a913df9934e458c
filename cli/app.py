"""The `station` command: each sub-command lives in its own module and registers itself."""

import typer

from cli import demo, report, stats, story, submit, tail

app = typer.Typer(no_args_is_help=True, add_completion=False, help="县派出所 · 运维工具")

for module in (submit, tail, story, stats, report, demo):
    module.register(app)


def main() -> None:
    app()
