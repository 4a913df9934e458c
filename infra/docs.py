"""The contract documents under docs/, generated from the services' models.

`python -m infra docs` writes `docs/asyncapi/<service>.json` and the generated sections
of `docs/contract.md` (between `<!-- generated: <service> -->` and
`<!-- end generated: <service> -->`); `python -m infra docs --check` exits 1 naming the
files that are stale, which CI runs through the unit tests.
"""

import importlib
import re
from pathlib import Path
from typing import Any

from shared import Service
from shared._kit.contract import asyncapi, describe, offline_runtime, render_json
from shared._kit.contract_text import markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONTRACT_MD = DOCS / "contract.md"
SERVICES = ("mediation", "enterprise", "outreach", "notifier")


def service(name: str) -> Service[Any]:
    """The `SERVICE` of `services/<name>/app.py`."""
    found: Service[Any] = importlib.import_module(f"services.{name}.app").SERVICE
    return found


def _block(name: str, body: str) -> str:
    return f"<!-- generated: {name} -->\n{body}<!-- end generated: {name} -->"


def generated() -> dict[Path, str]:
    """Every generated file with the content it should have now."""
    files: dict[Path, str] = {}
    text = CONTRACT_MD.read_text(encoding="utf-8")
    for name in SERVICES:
        svc = service(name)
        if svc.contract is None:
            continue
        runtime = offline_runtime(svc.name, svc.settings)
        svc.wire(runtime)
        contract = describe(runtime, svc.contract)
        files[DOCS / "asyncapi" / f"{name}.json"] = render_json(asyncapi(contract))
        pattern = re.compile(
            rf"<!-- generated: {name} -->\n.*?<!-- end generated: {name} -->", re.DOTALL
        )
        found = pattern.search(text)
        if found is None:
            raise LookupError(f"{CONTRACT_MD} has no generated section for {name}")
        start, end = found.span()
        text = text[:start] + _block(name, markdown(contract)) + text[end:]
    files[CONTRACT_MD] = text
    return files


def stale() -> list[Path]:
    """The generated files whose committed content differs from what the models give."""
    return [
        path
        for path, content in generated().items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]


def write() -> list[Path]:
    """Write what is stale; return what was written."""
    changed = stale()
    for path, content in generated().items():
        if path in changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    return changed
