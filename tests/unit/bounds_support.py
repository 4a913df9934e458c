"""Sending a valid command with one value past its bound, through a service's pipeline."""

import copy
import json
from typing import Any

from shared import Command
from shared.testing import Scenario

LONG_ID = "x" * 65
CJK_65 = "雷" * 65
TEXT_201 = "字" * 201
TEXT_2001 = "字" * 2001
FOREIGN_PHONE = "+1 202 555 0100"


def _stored(sc: Scenario[Any]) -> dict[str, Any]:
    return {
        name: copy.deepcopy(collection.docs)
        for name, collection in sc.db.collections.items()
        if name != "processed"
    }


def with_value(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`data` with the value at `path` (`members.0.age`) replaced."""
    changed: dict[str, Any] = json.loads(json.dumps(data))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = changed
    for step in parents:
        node = node[step]
    node[last] = value
    return changed


async def refusal(sc: Scenario[Any], command: Command, path: str, value: Any) -> list[str]:
    """The errors of the `command_rejected` (reason invalid_data, and nothing else) that
    `command` gets with `value` at `path`; nothing stored changes."""
    topic, event = sc.envelope(command)
    before = _stored(sc)
    sent = event.model_copy(update={"data": with_value(event.data or {}, path, value)})

    outcome = await sc.when_raw(topic, sent)

    assert outcome.rejected == "invalid_data", outcome.types
    assert len(outcome.events) == 1, "a rejection and nothing else"
    assert _stored(sc) == before
    return outcome.rejections[0].errors
