"""Small pure pieces of the plumbing: topic names, URL redaction, log masking, cluster ids."""

import re

from infra.local import _cluster_id
from infra.topics import contract_topics
from shared._kit.logging import mask_personal_numbers
from shared._kit.startup import redact
from shared._kit.topics import dlq_topic


def test_contract_topics_are_the_seven_topics_and_their_dead_letter_topics() -> None:
    topics = contract_topics()

    assert len(topics) == 14
    assert {t for t in topics if not t.endswith(".dlq")} == {
        "enterprise.intake",
        "outreach.intake",
        "mediation.intake",
        "enterprise.events",
        "outreach.events",
        "mediation.events",
        "notifier.events",
    }
    assert dlq_topic("enterprise.intake") in topics


def test_redact_hides_only_the_password() -> None:
    assert redact("mongodb://enterprise:s3cret@mongo:27017/enterprise?authSource=enterprise") == (
        "mongodb://enterprise:***@mongo:27017/enterprise?authSource=enterprise"
    )
    assert redact("mongodb://127.0.0.1:37017/") == "mongodb://127.0.0.1:37017/"


def test_phone_and_id_card_numbers_are_masked_everywhere_in_a_log_line() -> None:
    line = {
        "event": "household_registered",
        "phone": "13812345678",
        "members": [{"name": "Wu", "note": "ID 330102193601011234, call 15900001111"}],
        "amount_yuan": 21000,
    }

    masked = mask_personal_numbers(None, "info", line)

    assert masked["phone"] == "138****5678"
    assert masked["members"] == [{"name": "Wu", "note": "ID 330102********1234, call 159****1111"}]
    assert masked["amount_yuan"] == 21000


def test_numbers_that_are_not_phones_are_left_alone() -> None:
    masked = mask_personal_numbers(None, "info", {"event": "x", "order": "ORD-2026060312345"})

    assert masked["order"] == "ORD-2026060312345"


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
