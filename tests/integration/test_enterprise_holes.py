"""The enterprise service's delivery holes, closed, through Kafka alone (real broker and
FerretDB): non-finite numbers, a decline after resolution, growth after a re-plan, the
keys of an alert's facts, an accepted transfer reaching its deadline."""

import json

import pytest

from shared._kit.topics import dlq_topic
from tests.integration.enterprise_support import BUTANONE, CAT3, Enterprise
from tests.support import Raw, produce_raw, read_topic

pytestmark = pytest.mark.integration


async def _one_recipient(ent: Enterprise) -> None:
    await ent.send(
        ent.register("source", 0, licences=CAT3, capacity_kg=20_000),
        ent.register("r1", 3, licences=CAT3, capacity_kg=10_000),
        ent.register("r2", 8, licences=CAT3, capacity_kg=10_000),
    )
    await ent.tail.wait_for("enterprise.enterprise_registered", count=3)
    await ent.send(ent.demand("r1", 5_000), ent.demand("r2", 5_000))
    await ent.tail.wait_for("enterprise.demand_declared", count=2)


async def test_numbers_that_are_not_finite_are_dead_lettered_and_change_nothing(
    enterprise: Enterprise,
) -> None:
    """NaN, Infinity and a number past a float are not JSON (RFC 8259): the record is not a
    CloudEvent, so it goes to the DLQ (the contract), and the partition goes on."""
    ent = enterprise
    await ent.send(ent.register("source", 0, licences=CAT3, capacity_kg=20_000))
    await ent.tail.wait_for("enterprise.enterprise_registered")
    good = ent.inventory("source", "purchase", 1)
    literals = ["1e400", "NaN", "Infinity", "-Infinity"]
    raws = [
        json.dumps(good.model_dump(mode="json", exclude_none=True) | {"id": f"nf-{n}"})
        .replace('"quantity_kg": 1.0', f'"quantity_kg": {literal}')
        .replace('"quantity_kg": 1', f'"quantity_kg": {literal}')
        .encode()
        for n, literal in enumerate(literals)
    ]
    key = ent.id("source").encode()
    await produce_raw(ent.infra.kafka_bootstrap_servers, ent.intake, [Raw(r, key) for r in raws])
    await ent.send(good)  # the same key, so the same partition: it comes after them

    [changed] = await ent.tail.wait_for("enterprise.inventory_changed")
    dead = await read_topic(
        ent.infra.kafka_bootstrap_servers, dlq_topic(ent.intake), until=lambda r: len(r) >= 4
    )

    assert sorted(m.value for m in dead) == sorted(raws)
    assert {dict(m.headers)["x-dlq-reason"] for m in dead} == {b"not_a_cloudevent"}
    assert changed["data"]["stock_kg"] == 1
    assert ent.tail.of_type("enterprise.command_rejected") == []


async def test_a_decline_after_resolution_plans_nothing_and_the_proposal_is_withdrawn(
    enterprise: Enterprise,
) -> None:
    ent = enterprise
    await _one_recipient(ent)
    await ent.send(ent.inventory("source", "purchase", 22_000))
    [proposal] = await ent.tail.wait_for("enterprise.redistribution_proposed")
    [to_r1] = proposal["data"]["transfers"]

    await ent.send(ent.inventory("source", "consumption", 2_000))
    [withdrawn] = await ent.tail.wait_for("enterprise.transfer_withdrawn")
    await ent.send(ent.respond(to_r1, accepted=False))
    [late] = await ent.tail.wait_for("enterprise.command_rejected")

    assert withdrawn["data"]["transfer_id"] == to_r1["transfer_id"]
    assert withdrawn["subject"] == to_r1["transfer_id"]
    assert late["data"]["reason"] == "transfer_not_open"
    assert len(ent.tail.of_type("enterprise.redistribution_proposed")) == 1
    stats = await ent.stats_once(alerts_resolved=1)
    assert stats["transfers_by_state"] == {"withdrawn": 1}


async def test_growth_after_a_replanned_decline_is_proposed(enterprise: Enterprise) -> None:
    ent = enterprise
    await _one_recipient(ent)
    await ent.send(ent.inventory("source", "purchase", 22_000))
    [first] = await ent.tail.wait_for("enterprise.redistribution_proposed")
    await ent.send(ent.respond(first["data"]["transfers"][0], accepted=False))
    await ent.tail.wait_for("enterprise.redistribution_proposed", count=2)

    await ent.send(ent.inventory("source", "purchase", 1_000))
    [grown] = await ent.tail.wait_for("enterprise.alert_grown")
    proposals = await ent.tail.wait_for("enterprise.redistribution_proposed", count=3)

    assert grown["data"]["surplus_kg"] == 3_000
    assert [
        (t["to_enterprise_id"], t["quantity_kg"]) for t in proposals[2]["data"]["transfers"]
    ] == [(ent.id("r2"), 1_000)]


async def test_an_alerts_facts_share_the_enterprise_key(enterprise: Enterprise) -> None:
    ent = enterprise
    await ent.send(ent.register("source", 0, licences=CAT3, capacity_kg=20_000))
    await ent.tail.wait_for("enterprise.enterprise_registered")
    await ent.send(
        ent.inventory("source", "purchase", 21_000),
        ent.inventory("source", "purchase", 1_000),
        ent.inventory("source", "consumption", 2_000),
    )

    [opened] = await ent.tail.wait_for("enterprise.over_capacity_detected")
    [grown] = await ent.tail.wait_for("enterprise.alert_grown")
    [resolved] = await ent.tail.wait_for("enterprise.alert_resolved")

    assert {opened["subject"], grown["subject"], resolved["subject"]} == {ent.id("source")}
    stats = await ent.stats_once(alerts_resolved=1)
    assert stats["alerts_open"] == 0


@pytest.mark.service_env({"ENTERPRISE_RESPONSE_DEADLINE_S": "600"})
async def test_an_answer_cancels_the_transfers_deadline(enterprise: Enterprise) -> None:
    ent = enterprise
    await _one_recipient(ent)
    await ent.send(ent.inventory("source", "purchase", 22_000))
    [proposal] = await ent.tail.wait_for("enterprise.redistribution_proposed")
    [to_r1] = proposal["data"]["transfers"]
    deadlines = [t["_id"] for t in await ent.timers()]

    await ent.send(ent.respond(to_r1, accepted=True))
    await ent.tail.wait_for("enterprise.transfer_accepted")

    assert proposal["data"]["cas"] == BUTANONE
    assert deadlines == [f"deadline:{to_r1['transfer_id']}"]
    assert await ent.timers() == [], "an accepted transfer can no longer expire"
