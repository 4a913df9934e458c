"""The enterprise service as a process on real Kafka and FerretDB: the seed story end to end.

A synthetic-leather company bought 30 t of butanone for a warehouse permitted 20 t; the
surplus 10 t goes to licensed chemical companies nearby that need it (domain.md, story 2).
"""

import pytest

from tests.integration.enterprise_support import (
    BUTANONE,
    CAT3,
    Enterprise,
)

pytestmark = pytest.mark.integration


async def _seed(ent: Enterprise) -> None:
    await ent.send(
        ent.register("leather", 0, licences=CAT3, capacity_kg=20_000),
        ent.register("chem-a", 3, licences=CAT3, capacity_kg=10_000),
        ent.register("chem-b", 8, licences=CAT3, capacity_kg=10_000),
        ent.register("chem-far", 35, licences=CAT3, capacity_kg=30_000),
        ent.register("unlicensed", 1.5, licences=["hazardous"], capacity_kg=90_000),
    )
    await ent.tail.wait_for("enterprise.enterprise_registered", count=5)
    await ent.send(
        ent.demand("chem-a", 6_000),
        ent.demand("chem-b", 8_000),
        ent.demand("chem-far", 20_000),
        ent.demand("unlicensed", 50_000),
    )
    await ent.tail.wait_for("enterprise.demand_declared", count=4)


async def _seed_and_buy_thirty_tonnes(ent: Enterprise) -> None:
    await _seed(ent)
    await ent.send(ent.inventory("leather", "purchase", 30_000))


async def test_seed_story_surplus_redistributed_declined_replanned_delivered_resolved(
    enterprise: Enterprise,
) -> None:
    ent = enterprise
    await _seed_and_buy_thirty_tonnes(ent)

    [alert] = await ent.tail.wait_for(
        "enterprise.over_capacity_detected", enterprise_id=ent.id("leather")
    )
    [proposal] = await ent.tail.wait_for(
        "enterprise.redistribution_proposed", alert_id=alert["data"]["alert_id"]
    )
    transfers = {t["to_enterprise_id"]: t for t in proposal["data"]["transfers"]}

    assert alert["subject"] == ent.id("leather")
    assert alert["data"]["surplus_kg"] == 10_000
    assert alert["data"]["stock_kg"] == 30_000
    assert alert["data"]["capacity_kg"] == 20_000
    assert alert["data"]["chemical_name"] == "丁酮"
    assert alert["data"]["liaison_officer"]["officer_id"] == "officer-leather"
    assert alert["correlationid"] == alert["causationid"]  # the purchase started this story
    assert [(t["to_enterprise_id"], t["quantity_kg"]) for t in proposal["data"]["transfers"]] == [
        (ent.id("chem-a"), 6_000),
        (ent.id("chem-b"), 4_000),
    ]
    assert proposal["data"]["unallocated_kg"] == 0
    assert proposal["correlationid"] == alert["correlationid"]

    # chem-b declines: its 4 t are re-planned at once, never to chem-b again
    await ent.send(
        ent.respond(transfers[ent.id("chem-b")], accepted=False),
        ent.respond(transfers[ent.id("chem-a")], accepted=True),
    )
    [declined] = await ent.tail.wait_for(
        "enterprise.transfer_declined", to_enterprise_id=ent.id("chem-b")
    )
    proposals = await ent.tail.wait_for(
        "enterprise.redistribution_proposed", count=2, alert_id=alert["data"]["alert_id"]
    )
    replanned = proposals[1]["data"]["transfers"]
    assert declined["data"]["reason"] == "no room this month"
    assert [(t["to_enterprise_id"], t["quantity_kg"]) for t in replanned] == [
        (ent.id("chem-far"), 4_000)
    ]

    await ent.send(ent.respond(replanned[0], accepted=True))
    await ent.tail.wait_for("enterprise.transfer_accepted", count=2)
    await ent.send(ent.deliver(transfers[ent.id("chem-a")]), ent.deliver(replanned[0]))
    completed = await ent.tail.wait_for("enterprise.transfer_completed", count=2)
    [resolved] = await ent.tail.wait_for(
        "enterprise.alert_resolved", alert_id=alert["data"]["alert_id"]
    )

    assert sorted(c["data"]["quantity_kg"] for c in completed) == [4_000, 6_000]
    assert resolved["data"]["stock_kg"] == 20_000
    received = ent.tail.of_type("enterprise.inventory_changed", enterprise_id=ent.id("chem-a"))
    assert received[-1]["data"]["stock_kg"] == 6_000
    stats = await ent.stats_once(alerts_resolved=1)
    assert stats["kg_redistributed"] == 10_000
    assert stats["transfers_by_state"] == {"completed": 2, "declined": 1}
    assert not any(ent.id("unlicensed") in str(p["data"]) for p in proposals)


async def test_no_eligible_recipient_escalates_at_once(enterprise: Enterprise) -> None:
    ent = enterprise
    await ent.send(
        ent.register("lonely", 0, licences=CAT3, capacity_kg=1_000),
        ent.register("unlicensed", 2, licences=["hazardous"], capacity_kg=90_000),
    )
    await ent.tail.wait_for("enterprise.enterprise_registered", count=2)
    await ent.send(ent.demand("unlicensed", 5_000), ent.inventory("lonely", "purchase", 3_500))

    [escalated] = await ent.tail.wait_for("enterprise.redistribution_escalated")

    assert escalated["data"]["unallocated_kg"] == 2_500
    assert escalated["data"]["reason"] == "no_eligible_recipient"
    assert ent.tail.of_type("enterprise.redistribution_proposed") == []


async def test_bad_commands_are_rejected_with_a_reason_and_change_nothing(
    enterprise: Enterprise,
) -> None:
    ent = enterprise
    await _seed_and_buy_thirty_tonnes(ent)
    [proposal] = await ent.tail.wait_for("enterprise.redistribution_proposed")
    transfer = proposal["data"]["transfers"][0]
    bad = {
        "unknown_enterprise": ent.inventory("nobody", "purchase", 1),
        "unknown_cas": ent.inventory("chem-a", "purchase", 1, cas="00-00-0"),
        "negative_quantity": ent.inventory("chem-a", "purchase", -5),
        "insufficient_stock": ent.inventory("chem-a", "consumption", 1),
        "not_the_recipient": ent.respond(transfer, accepted=True, by=ent.id("chem-far")),
        "unknown_transfer": ent.deliver({"transfer_id": f"no-such-{ent.suffix}", "quantity_kg": 1}),
    }
    await ent.send(*bad.values())

    rejected = await ent.tail.wait_for("enterprise.command_rejected", count=len(bad))
    reasons = {r["data"]["command_id"]: r["data"]["reason"] for r in rejected}
    assert reasons == {c.id: reason for reason, c in bad.items()}
    for r in rejected:
        assert r["data"]["errors"], r
    await ent.stats_once(transfers_by_state={"proposed": 2})
    changed = ent.tail.of_type("enterprise.inventory_changed", enterprise_id=ent.id("chem-a"))
    assert changed == []


@pytest.mark.service_env(
    {"ENTERPRISE_RESPONSE_DEADLINE_S": "2", "ENTERPRISE_TIMER_INTERVAL_S": "0.2"}
)
async def test_no_answer_within_the_deadline_expires_releases_and_replans(
    enterprise: Enterprise,
) -> None:
    ent = enterprise
    await ent.send(
        ent.register("leather", 0, licences=CAT3, capacity_kg=20_000),
        ent.register("chem-a", 3, licences=CAT3, capacity_kg=10_000),
    )
    await ent.tail.wait_for("enterprise.enterprise_registered", count=2)
    # different keys, different partitions: the demand must be in before the purchase
    await ent.send(ent.demand("chem-a", 6_000))
    await ent.tail.wait_for("enterprise.demand_declared")
    await ent.send(ent.inventory("leather", "purchase", 23_000))
    [proposal] = await ent.tail.wait_for("enterprise.redistribution_proposed")

    [expired] = await ent.tail.wait_for("enterprise.transfer_declined", timeout_s=30)
    [escalated] = await ent.tail.wait_for("enterprise.redistribution_escalated")

    assert proposal["data"]["transfers"][0]["quantity_kg"] == 3_000
    assert expired["data"]["reason"] == "expired"
    assert escalated["data"] == {
        "alert_id": proposal["data"]["alert_id"],
        "enterprise_id": ent.id("leather"),
        "cas": BUTANONE,
        "unallocated_kg": 3_000,
        "reason": "expired",
    }
    stats = await ent.stats_once(transfers_by_state={"expired": 1})
    assert stats["kg_escalated"] == 3_000


async def test_a_larger_surplus_grows_the_open_alert_and_consumption_resolves_it(
    enterprise: Enterprise,
) -> None:
    ent = enterprise
    await _seed_and_buy_thirty_tonnes(ent)
    [alert] = await ent.tail.wait_for("enterprise.over_capacity_detected")
    alert_id = alert["data"]["alert_id"]
    await ent.tail.wait_for("enterprise.redistribution_proposed", alert_id=alert_id)

    await ent.send(ent.inventory("leather", "purchase", 2_000))
    [grown] = await ent.tail.wait_for("enterprise.alert_grown", alert_id=alert_id)
    proposals = await ent.tail.wait_for(
        "enterprise.redistribution_proposed", count=2, alert_id=alert_id
    )
    await ent.send(ent.inventory("leather", "consumption", 12_000))
    [resolved] = await ent.tail.wait_for("enterprise.alert_resolved", alert_id=alert_id)

    assert len(ent.tail.of_type("enterprise.over_capacity_detected")) == 1, "one per excursion"
    assert grown["data"]["surplus_kg"] == 12_000
    # the extra 2 t go to chem-b, whose need (8 t) was 4 t covered
    assert [
        (t["to_enterprise_id"], t["quantity_kg"]) for t in proposals[1]["data"]["transfers"]
    ] == [(ent.id("chem-b"), 2_000)]
    assert resolved["data"]["stock_kg"] == 20_000
    stats = await ent.stats_once(alerts_resolved=1)
    assert stats["alerts_open"] == 0


async def test_re_registering_with_a_larger_permit_resolves_the_alert(
    enterprise: Enterprise,
) -> None:
    ent = enterprise
    await ent.send(
        ent.register("leather", 0, licences=CAT3, capacity_kg=20_000),
        ent.inventory("leather", "purchase", 30_000),
    )
    [alert] = await ent.tail.wait_for("enterprise.over_capacity_detected")
    await ent.send(ent.register("leather", 0, licences=CAT3, capacity_kg=40_000))

    [resolved] = await ent.tail.wait_for(
        "enterprise.alert_resolved", alert_id=alert["data"]["alert_id"]
    )
    registrations = await ent.tail.wait_for("enterprise.enterprise_registered", count=2)

    assert resolved["data"]["capacity_kg"] == 40_000
    assert registrations[1]["data"]["storage"] == [{"cas": BUTANONE, "capacity_kg": 40_000}]
