"""The mediation service as a process on real Kafka and FerretDB: the seed story end to end,
disputes found on visits, and bad input.

Ms. Lei's renovation is stuck over the worker's pay (domain.md, story 1): the station's
full-time mediator gets her, the contractor and the worker to agree, and the follow-ups
find both obligations fulfilled.
"""

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from shared._kit.envelope import CloudEvent
from tests.integration.mediation_support import Mediation, running_mediation
from tests.support import Infra, produce, read_topic

pytestmark = pytest.mark.integration

TERMS = [
    {"party": "Chen", "obligation": "pay Ye the wages owed", "due_date": "2026-12-10"},
    {"party": "Ye", "obligation": "refit the wooden door", "due_date": "2026-12-05"},
]


@pytest.fixture
async def mediation(infra: Infra, unique_id: Callable[[str], str]) -> AsyncIterator[Mediation]:
    async with running_mediation(infra, unique_id("t")) as service:
        yield service


async def _station(med: Mediation) -> None:
    """Lü (full-time: construction and wages) and two community mediators."""
    await med.send(
        med.register("lu", "station_full_time", ["construction_payment", "labour_wage"]),
        med.register("community-a", "community", ["family", "neighbour"], blocks=["block-07"]),
        med.register("community-b", "community", ["family", "neighbour"]),
    )
    for name in ("lu", "community-a", "community-b"):
        await med.tail.wait_for("mediation.mediator_registered", mediator_id=med.id(name))


async def test_seed_story_reported_assigned_agreed_followed_up_resolved(
    mediation: Mediation,
) -> None:
    med = mediation
    await _station(med)
    case_id = med.case_id("lei")

    await med.send(med.report("lei"))
    [opened] = await med.tail.wait_for("mediation.case_opened", case_id=case_id)
    [assigned] = await med.tail.wait_for("mediation.mediator_assigned", case_id=case_id)
    await med.send(med.session(case_id, "lu", "agreement", TERMS))
    [agreed] = await med.tail.wait_for("mediation.agreement_reached", case_id=case_id)
    await med.send(med.check(case_id, 0), med.check(case_id, 1))
    [resolved] = await med.tail.wait_for("mediation.case_resolved", case_id=case_id)

    assert opened["subject"] == case_id
    assert opened["data"]["category"] == "construction_payment"
    # the parties' roles on the public fact, their names and phones only on the private one
    assert opened["data"]["parties"] == [
        {"role": "applicant"},
        {"role": "respondent"},
        {"role": "third_party"},
    ]
    assert "description" not in opened["data"]
    [whole] = await med.private.wait_for("mediation.case_opened", case_id=case_id)
    assert whole["id"] == opened["id"]
    assert [p["name"] for p in whole["data"]["parties"]] == ["Ms. Lei", "Chen", "Ye"]
    assert whole["data"]["parties"][0]["phone"] == "13900000001"
    assert assigned["data"]["mediator_id"] == med.id("lu")
    assert assigned["data"]["mediator_kind"] == "station_full_time"
    assert assigned["correlationid"] == opened["correlationid"], "one story"
    assert agreed["data"]["terms"] == [
        {k: v for k, v in term.items() if k != "party"} for term in TERMS
    ]
    [agreed_whole] = await med.private.wait_for("mediation.agreement_reached", case_id=case_id)
    assert agreed_whole["data"]["terms"] == TERMS
    assert agreed["data"]["follow_up_due"] == "2026-12-10"
    assert resolved["data"]["how"] == "agreement_fulfilled"
    assert resolved["data"]["sessions"] == 1
    checked = med.tail.of_type("mediation.obligation_checked", case_id=case_id)
    assert sorted(c["data"]["term_index"] for c in checked) == [0, 1]
    stats = await med.stats_once(cases_by_state={"resolved": 1})
    assert stats["resolution_rate"] == 1.0
    assert stats["mediator_load"][med.id("lu")] == {"active": 0, "max": 5}, "slot freed"
    [case] = await med.documents("cases")
    assert case["state"]["next_due_s"] is None, "no deadline left to act on"


async def test_disputes_found_on_visits_open_a_case_and_one_settled_there_is_resolved(
    mediation: Mediation,
) -> None:
    med = mediation
    await _station(med)

    quarrel = await med.visit_found_dispute("visit-quarrel", on_site=False)
    settled = await med.visit_found_dispute("visit-settled", on_site=True)
    [opened] = await med.tail.wait_for("mediation.case_opened", dispute_id=quarrel)
    [assigned] = await med.tail.wait_for(
        "mediation.mediator_assigned", case_id=opened["data"]["case_id"]
    )
    [opened_on_site] = await med.tail.wait_for("mediation.case_opened", dispute_id=settled)
    on_site_case = opened_on_site["data"]["case_id"]
    [resolved] = await med.tail.wait_for("mediation.case_resolved", case_id=on_site_case)

    assert opened["data"]["source"] == "outreach"
    assert opened["data"]["block"] == "block-07"
    # the parties came whole from outreach.private; the case's own private fact names them
    [whole] = await med.private.wait_for("mediation.case_opened", dispute_id=quarrel)
    assert [p["name"] for p in whole["data"]["parties"]] == ["Mr. Wu", "Mrs. Wu"]
    assert whole["data"]["description"] == "a couple quarrelling"
    assert [set(p) for p in opened["data"]["parties"]] == [{"role"}, {"role"}]
    assert assigned["data"]["mediator_id"] == med.id("community-a"), "serves block-07"
    assert assigned["data"]["reason"] == "serves_block"
    assert (resolved["data"]["how"], resolved["data"]["days_open"]) == ("resolved_on_site", 0)
    assert med.tail.of_type("mediation.mediator_assigned", case_id=on_site_case) == []
    stats = await med.stats_once(resolved_on_site=1, cases=2)
    assert stats["cases_by_source"] == {"outreach": 2}


async def test_a_forged_dispute_on_outreachs_private_topic_is_dead_lettered_and_opens_nothing(
    mediation: Mediation,
) -> None:
    med = mediation
    await _station(med)
    vid = med.id("visit-forged")
    forged = CloudEvent(
        id=uuid.uuid4().hex,
        source="/intake/mallory",
        type="outreach.dispute_detected",
        subject=vid,
        data={
            "visit_id": vid,
            "category": "family",
            "parties": [{"name": "Someone Else", "role": "applicant"}],
            "description": "made up",
            "resolved_on_site": False,
        },
    )
    bootstrap = med.infra.kafka_bootstrap_servers
    await produce(bootstrap, "outreach.private", [(forged.key, forged.to_bytes())])
    real = await med.visit_found_dispute("visit-real", on_site=False)

    dlq = await read_topic(
        bootstrap,
        "outreach.private.dlq",
        until=lambda records: any(r.value == forged.to_bytes() for r in records),
    )
    await med.tail.wait_for("mediation.case_opened", dispute_id=real)

    [copy] = [r for r in dlq if r.value == forged.to_bytes()]
    headers = {k: v.decode() for k, v in copy.headers}
    assert headers["x-dlq-reason"] == "foreign_source"
    assert headers["x-dlq-original-topic"] == "outreach.private"
    assert med.tail.of_type("mediation.case_opened", dispute_id=vid) == []


async def test_bad_commands_are_rejected_with_a_reason_and_change_nothing(
    mediation: Mediation,
) -> None:
    med = mediation
    await _station(med)
    await med.send(med.report("lei"), med.report("agreed"))
    case_id, agreed_id = med.case_id("lei"), med.case_id("agreed")
    await med.tail.wait_for("mediation.mediator_assigned", case_id=agreed_id)
    await med.tail.wait_for("mediation.mediator_assigned", case_id=case_id)
    await med.send(med.session(agreed_id, "lu", "agreement", TERMS))
    await med.tail.wait_for("mediation.agreement_reached", case_id=agreed_id)
    before = await _states(med)
    bad = {
        "unknown_case": med.session(med.case_id("nobody"), "lu", "adjourned"),
        "unknown_mediator": med.session(case_id, "nobody", "adjourned"),
        "not_the_assigned_mediator": med.session(case_id, "community-a", "adjourned"),
        "agreement_without_terms": med.session(case_id, "lu", "agreement", []),
        "term_index_out_of_range": med.check(agreed_id, 5),
        "unknown_category": med.report("odd", "witchcraft"),
    }

    await med.send(*bad.values())
    rejected = {
        reason: await med.tail.wait_for("mediation.command_rejected", command_id=cmd.id)
        for reason, cmd in bad.items()
    }

    assert {reason: r[0]["data"]["reason"] for reason, r in rejected.items()} == {
        reason: reason for reason in bad
    }
    assert all(r[0]["data"]["errors"] for r in rejected.values())
    assert await _states(med) == before
    causes = {cmd.id for cmd in bad.values()}
    caused = sorted(e["id"] for e in med.tail.events if e.get("causationid") in causes)
    assert caused == sorted(r[0]["id"] for r in rejected.values()), "a rejection, nothing else"


async def _states(med: Mediation) -> dict[str, object]:
    """Every case and mediator as stored (their outboxes drain on their own)."""
    return {
        doc["_id"]: doc["state"]
        for collection in ("cases", "mediators")
        for doc in await med.documents(collection)
    }
