"""Small pure pieces of the plumbing: topic names, URL redaction, log masking, cluster ids."""

import re

from infra.local import _cluster_id
from shared.logging import mask_personal_numbers
from shared.startup import redact
from shared.topics import contract_topics, dlq_topic


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
