"""Small pure pieces of the plumbing: topic names, URL redaction, log masking, cluster ids."""

import asyncio
import json
import re
import subprocess
import sys
import uuid

from infra.local import _cluster_id
from infra.stack import LINE_LIMIT, read_lines
from infra.topics import contract_topics
from shared import stable_id
from shared._kit.logging import HELD_AT_MOST
from shared._kit.masking import MASKED, mask_text
from shared._kit.startup import redact
from shared._kit.topics import dlq_topic


def test_contract_topics_are_the_eleven_topics_and_their_dead_letter_topics() -> None:
    topics = contract_topics()

    assert len(topics) == 22
    assert {t for t in topics if not t.endswith(".dlq")} == {
        "enterprise.intake",
        "outreach.intake",
        "mediation.intake",
        "notifier.intake",
        "enterprise.events",
        "outreach.events",
        "mediation.events",
        "notifier.events",
        "enterprise.private",
        "outreach.private",
        "mediation.private",
    }
    assert dlq_topic("enterprise.intake") in topics


def test_redact_hides_only_the_password() -> None:
    assert redact("mongodb://enterprise:s3cret@mongo:27017/enterprise?authSource=enterprise") == (
        "mongodb://enterprise:***@mongo:27017/enterprise?authSource=enterprise"
    )
    assert redact("mongodb://127.0.0.1:37017/") == "mongodb://127.0.0.1:37017/"


LOGGING_SCRIPT = """
import logging, structlog
from shared._kit.logging import configure_logging
configure_logging(service="outreach", fmt="json")
structlog.get_logger("station.outreach").info(
    "household_registered",
    phone="13812345678",
    members=[{"name": "Wu", "note": "ID 330102193601011234, call 15900001111"}],
    reason="ID 330102193601011234, call 15900001111",
    order="ORD-2026060312345",
    amount_yuan=21000,
)
structlog.get_logger("station.outreach").debug("not_written")
logging.getLogger("aiokafka").warning("peer 13912345678 gone")
"""


def test_phone_and_id_card_numbers_are_masked_in_every_line_written() -> None:
    """Our own lines and the libraries' (through the standard library) alike, wherever
    the number sits in the line; other long numbers stay; debug lines are not written."""
    done = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT], capture_output=True, text=True, check=True
    )
    ours, theirs = [json.loads(line) for line in done.stderr.splitlines()]

    assert ours["event"] == "household_registered"
    assert ours["logger"] == "station.outreach"
    assert ours["service"] == "outreach"
    assert ours["level"] == "info"
    assert ours["phone"] == "138****5678"
    assert ours["members"] == [{"name": "W*", "note": "ID " + MASKED}], "masked by its name"
    assert ours["reason"] == "ID 330102********1234, call 159****1111"
    assert ours["order"] == "ORD-2026060312345"
    assert ours["amount_yuan"] == 21000
    assert theirs["event"] == "peer 139****5678 gone"
    assert theirs["logger"] == "aiokafka"
    assert "13812345678" not in done.stderr
    assert "13912345678" not in done.stderr


def test_numbers_that_are_not_phones_are_left_alone() -> None:
    for line in ('{"order": "ORD-2026060312345"}', '{"at_ms": 1795920000000}', "no digits"):
        assert mask_text(line) == line


def test_cluster_ids_have_kafkas_shape() -> None:
    ids = {_cluster_id() for _ in range(200)}

    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cid) for cid in ids)


def test_the_kit_has_no_import_cycle_and_services_use_only_its_public_api() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    graph: dict[str, set[str]] = {}
    for path in (root / "shared").rglob("*.py"):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module is not None
            and node.module.startswith("shared")
        }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for dep in graph.get(start, ()):
            if dep == target or (dep not in seen and reaches(dep, target, seen | {dep})):
                return True
        return False

    assert [m for m in graph if reaches(m, m, set())] == []
    private = [
        str(path.relative_to(root))
        for path in (root / "services").rglob("*.py")
        if "shared._kit" in path.read_text(encoding="utf-8")
    ]
    assert private == [], "services import the kit's public API only (`from shared import …`)"


def test_stable_ids_are_uuid5_exactly() -> None:
    """Ids stored by earlier versions must come out the same on a replay."""
    namespace = uuid.UUID("3b8f5a52-6a1d-5c1e-9d0b-4a7e2f6c1d90")
    for name in ("", "a", "campaign\x1fw-1", "x\x1fhh-000123", "中文 é " * 40):
        assert stable_id(namespace, name) == str(uuid.uuid5(namespace, name))


HELD_SCRIPT = """
import structlog
from shared._kit.logging import HELD_AT_MOST, configure_logging, lines_together
configure_logging(service="svc", fmt="json")
log = structlog.get_logger("station.publishing")
log.info("before", n=-1)
with lines_together():
    for n in range(HELD_AT_MOST + 3):
        log.info("event_emitted", n=n, phone="13812345678")
log.info("after", n=HELD_AT_MOST + 3)
"""


def test_lines_written_together_are_all_written_in_order_and_masked() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HELD_SCRIPT], capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]

    assert [line["n"] for line in lines] == list(range(-1, HELD_AT_MOST + 4))
    assert {line["phone"] for line in lines[1:-1]} == {"138****5678"}
    assert lines[-1]["event"] == "after"


async def test_a_childs_overlong_line_is_cut_and_the_lines_after_it_still_read() -> None:
    """A service logging a line longer than the reader's buffer must not stop the stack
    from reading (a child nobody reads blocks on its next write)."""
    script = (
        "import sys; print('first'); print('x' * 3_000_000); print('after'); "
        "sys.stdout.write('no newline at the end')"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT
    )
    assert proc.stdout is not None

    lines = [raw async for raw in read_lines(proc.stdout)]
    await proc.wait()

    assert lines[0] == b"first\n"
    assert lines[1].endswith(b" [cut]\n")
    assert len(lines[1]) < 3_000_000, "cut (to what the buffer held, about the limit)"
    assert lines[2:] == [b"after\n", b"no newline at the end"]
