"""The outreach service as a process on real Kafka and FerretDB: the seed stories end to end
and bad input (domain.md, stories 3 and 4).

A warning about callers posing as the fire brigade reaches the restaurants of two blocks;
Ms. Zheng talks a 21,000-yuan "order" out; the Wus' quarrel is settled on a visit; three
reports of one scheme in one block launch one campaign there; a 90-year-old's lost ID
card is replaced at home.
"""

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.outreach import commands as c
from tests.integration.outreach_support import (
    Outreach,
    attempt,
    household,
    running_outreach,
    station_today,
    visit_report,
    volunteer,
    warning,
)
from tests.support import Infra, eventually, stats_since

pytestmark = pytest.mark.integration

B1, B2, B3 = "block-01", "block-02", "block-03"
OFFICIAL_ORDER = "impersonate_official_order"


@pytest.fixture
async def outreach(infra: Infra, unique_id: Callable[[str], str]) -> AsyncIterator[Outreach]:
    async with running_outreach(infra, unique_id("t")) as service:
        yield service


async def _registry(o: Outreach) -> None:
    """Restaurants, a gold shop, elderly people living alone and ordinary households over
    three blocks; volunteers from a bank, the women's federation, the grid, a community
    and the police."""
    homes = [
        household(o.id("zheng-restaurant"), B1, ages=(46,), business="catering"),
        household(o.id("hotpot"), B1, ages=(51,), business="catering"),
        household(o.id("noodles"), B1, ages=(38,), business="catering"),
        household(o.id("ye-gold-shop"), B1, ages=(29,), business="gold_shop"),
        household(o.id("grandma-wu"), B1, ages=(88,), alone=True),
        household(o.id("tea-house"), B2, ages=(60,), business="catering"),
        household(o.id("dumplings"), B2, ages=(33,), business="catering"),
        household(o.id("bbq"), B2, ages=(41,), business="catering"),
        household(o.id("the-wus"), B2, ages=(41, 39)),
        household(o.id("bakery"), B3, ages=(30,), business="catering"),
        household(o.id("grandpa-li"), B3, ages=(79,), alone=True),
    ]
    people = [
        volunteer(o.id("bank-li"), [B1], org="bank"),
        volunteer(o.id("grid-chen"), [B1], org="grid_worker"),
        volunteer(o.id("federation-xu"), [B2], org="womens_federation"),
        volunteer(o.id("community-he"), [B2, B3], org="community"),
        volunteer(o.id("officer-lu"), [B1, B2], org="police"),
    ]
    await o.send(*homes, *people)
    await o.tail.wait_for("outreach.household_registered", count=len(homes))
    await o.tail.wait_for("outreach.volunteer_registered", count=len(people))


async def test_a_warning_to_restaurants_of_two_blocks_then_visits_with_findings(
    outreach: Outreach,
) -> None:
    o = outreach
    await _registry(o)

    await o.send(
        warning(o.id("w-fire"), OFFICIAL_ORDER, blocks=[B1, B2], business_types=["catering"])
    )
    [launched] = await o.tail.wait_for("outreach.campaign_launched")
    assigned = await o.tail.wait_for("outreach.visit_assigned", count=6)

    data = launched["data"]
    assert (data["trigger"], data["blocks"], data["visits_planned"]) == ("warning", [B1, B2], 6)
    assert launched["subject"] == data["campaign_id"]
    visits = {a["data"]["household_id"]: a["data"] for a in assigned}
    assert sorted(visits) == sorted(
        o.id(h) for h in ("zheng-restaurant", "hotpot", "noodles", "tea-house", "dumplings", "bbq")
    ), "catering in blocks 1 and 2 only"
    load = Counter(v["volunteer_id"] for v in visits.values())
    assert len(load) == 5, "every volunteer of the two blocks takes some"
    assert max(load.values()) - min(load.values()) <= 1, f"balanced by load: {load}"
    assert all(a["subject"] == a["data"]["visit_id"] for a in assigned)
    assert all(a["correlationid"] == launched["correlationid"] for a in assigned)
    assert o.tail.of_type("outreach.coverage_gap_detected") == []

    zheng = visits[o.id("zheng-restaurant")]
    order = {"fraud_dissuaded": {"scheme": OFFICIAL_ORDER, "amount_yuan": 21_000}}
    await o.send(visit_report(zheng, order))
    [dissuaded] = await o.tail.wait_for("outreach.fraud_dissuaded", source_id=zheng["visit_id"])
    [done] = await o.tail.wait_for("outreach.visit_completed", visit_id=zheng["visit_id"])

    assert dissuaded["data"]["amount_yuan"] == 21_000
    assert dissuaded["data"]["household_id"] == o.id("zheng-restaurant")
    assert done["data"]["volunteer_id"] == zheng["volunteer_id"]

    await o.send(warning(o.id("w-b2"), "fake_refund", blocks=[B2], all_households=True))
    [wus] = await o.tail.wait_for("outreach.visit_assigned", household_id=o.id("the-wus"))
    quarrel = {
        "dispute": {
            "category": "family",
            "parties": [
                {"name": "Wu Gang", "role": "applicant"},
                {"name": "Wu Li", "role": "respondent"},
            ],
            "description": "A quarrel over money lent to a cousin.",
            "resolved_on_site": True,
        }
    }
    await o.send(visit_report(wus["data"], quarrel))
    [dispute] = await o.tail.wait_for("outreach.dispute_detected")

    assert dispute["subject"] == wus["data"]["visit_id"]
    assert (dispute["data"]["category"], dispute["data"]["resolved_on_site"]) == ("family", True)
    assert dispute["data"]["household_id"] == o.id("the-wus")
    assert dispute["data"]["found_by"] == wus["data"]["volunteer_id"]
    # public: ids, roles and the category; private: the whole fact, the same id
    assert dispute["data"]["parties"] == [{"role": "applicant"}, {"role": "respondent"}]
    assert not {"description", "found_by_name"} & set(dispute["data"])
    [whole] = await o.private.wait_for("outreach.dispute_detected")
    assert (whole["id"], whole["subject"]) == (dispute["id"], dispute["subject"])
    assert [p["name"] for p in whole["data"]["parties"]] == ["Wu Gang", "Wu Li"]
    assert whole["data"]["description"] == "A quarrel over money lent to a cousin."
    stats = await o.stats_once(disputes_found=1, fraud_dissuaded=1)
    assert stats["fraud_dissuaded_yuan"] == 21_000
    assert stats["households"] == 11
    assert stats["volunteers"] == 5
    assert stats["visits_by_state"]["completed"] == 2
    assert stats["coverage_by_block"][B1]["households"] == 5


async def test_registrations_on_the_public_topic_carry_no_name_phone_address_or_flag(
    outreach: Outreach,
) -> None:
    o = outreach
    home = household(o.id("grandma-li"), B3, ages=(84,), alone=True).model_copy(
        update={"prior_fraud_victim": True}
    )
    await o.send(home, volunteer(o.id("grid-he"), [B3], org="grid_worker"))

    [registered] = await o.tail.wait_for("outreach.household_registered")
    [joined] = await o.tail.wait_for("outreach.volunteer_registered")
    [whole_home] = await o.private.wait_for("outreach.household_registered")
    [whole_volunteer] = await o.private.wait_for("outreach.volunteer_registered")

    assert registered["data"] == {
        "household_id": o.id("grandma-li"),
        "block": B3,
        "members": [{}],
        "business_type": None,
    }
    assert set(joined["data"]) == {
        "volunteer_id",
        "organisation",
        "blocks",
        "max_open_visits",
        "open_visits",
    }
    assert (whole_home["id"], whole_home["subject"]) == (registered["id"], registered["subject"])
    assert whole_home["data"]["members"] == [
        {"name": f"{o.id('grandma-li')}-0", "age": 84, "phone": None, "mobility_impaired": False}
    ]
    assert whole_home["data"]["address"] == f"{o.id('grandma-li')}, {B3}"
    assert whole_home["data"]["lives_alone_elderly"] is True
    assert whole_home["data"]["prior_fraud_victim"] is True
    assert whole_volunteer["data"]["phone"] == "13800000000"
    public = json.dumps([registered, joined])
    assert "13800000000" not in public
    assert f"{o.id('grandma-li')}-0" not in public, "the member's name"


async def test_three_attempt_reports_in_a_block_launch_one_cluster_campaign(
    outreach: Outreach,
) -> None:
    o = outreach
    await _registry(o)

    reports = [attempt(o.id(f"r{n}"), B3, "fake_loan") for n in range(4)]
    await o.send(*reports)
    await o.tail.wait_for("outreach.fraud_attempt_reported", count=4)
    [launched] = await o.tail.wait_for("outreach.campaign_launched")
    assigned = await o.tail.wait_for("outreach.visit_assigned", count=2)

    assert (launched["data"]["trigger"], launched["data"]["blocks"]) == ("fraud_cluster", [B3])
    assert launched["data"]["scheme"] == "fake_loan"
    assert sorted(a["data"]["household_id"] for a in assigned) == [
        o.id("bakery"),
        o.id("grandpa-li"),
    ]
    assert len(o.tail.of_type("outreach.fraud_dissuaded")) == 4
    stats = await o.stats_once(fraud_clusters=1)
    assert stats["campaigns_by_trigger"] == {"fraud_cluster": 1}
    assert len(o.tail.of_type("outreach.campaign_launched")) == 1, "one campaign, not three"


async def test_the_90_year_olds_id_card_booked_at_home_then_done(outreach: Outreach) -> None:
    o = outreach
    await _registry(o)
    today = station_today()
    request = c.RequestHomeService.model_validate(
        {
            "request_id": o.id("id-card"),
            "service": "id_card_replacement",
            "person": {"name": "Grandma Liu", "age": 89, "mobility_impaired": True},
            "requested_by": {"name": "Liu Jun", "relation": "son", "phone": "13900000000"},
            "address": "7 Lane, block-01",
            "block": B1,
            "preferred_dates": [str(today + timedelta(days=3)), str(today + timedelta(days=1))],
        }
    )

    await o.send(request)
    [scheduled] = await o.tail.wait_for("outreach.home_service_scheduled")
    await o.send(c.CompleteHomeService(request_id=o.id("id-card"), officer_id=o.id("officer-lu")))
    [completed] = await o.tail.wait_for("outreach.home_service_completed")

    assert scheduled["subject"] == o.id("id-card")
    assert scheduled["data"]["appointment_date"] == str(today + timedelta(days=1))
    assert scheduled["data"]["officer_id"] == o.id("officer-lu")
    assert scheduled["data"]["requested_by"] == {"relation": "son"}
    assert "address" not in scheduled["data"]
    [whole] = await o.private.wait_for("outreach.home_service_scheduled")
    assert whole["id"] == scheduled["id"]
    assert whole["data"]["requested_by"]["phone"] == "13900000000"
    assert whole["data"]["address"] == "7 Lane, block-01"
    assert completed["data"]["officer_id"] == o.id("officer-lu")
    stats = await o.stats_once(home_services_by_state={"completed": 1})
    assert stats["home_services_by_state"] == {"completed": 1}


async def test_bad_input_is_refused_with_a_reason_and_changes_nothing(outreach: Outreach) -> None:
    o = outreach
    await _registry(o)
    await o.send(warning(o.id("w"), OFFICIAL_ORDER, blocks=[B1], business_types=["catering"]))
    assigned = await o.tail.wait_for("outreach.visit_assigned", count=3)
    visit, held = assigned[0]["data"], assigned[1]["data"]
    someone_else = next(
        o.id(v) for v in ("bank-li", "grid-chen", "officer-lu") if o.id(v) != held["volunteer_id"]
    )
    await o.send(visit_report(visit))
    await o.tail.wait_for("outreach.visit_completed")
    before = await stats_since(o.service.port, datetime.now(UTC))
    home = {
        "request_id": o.id("req"),
        "service": "id_card_renewal",
        "person": {"name": "Liu", "age": 90},
        "requested_by": {"name": "Liu Jun", "relation": "son", "phone": "13900000000"},
        "address": "7 Lane",
        "block": B1,
        "preferred_dates": [],
    }
    bad = {
        "unknown_block": household(o.id("h-x"), "block-42"),
        "unknown_household": attempt(o.id("r-x"), B1, OFFICIAL_ORDER).model_copy(
            update={"household_id": o.id("nobody")}
        ),
        "unknown_volunteer": visit_report(held, by=o.id("stranger")),
        "assigned_to_another_volunteer": visit_report(held, by=someone_else),
        "visit_already_reported": visit_report(visit),
        "no_preferred_dates": c.RequestHomeService.model_validate(home),
    }
    sent = await o.send(*bad.values())

    rejected = await o.tail.wait_for("outreach.command_rejected", count=len(bad))

    reasons = {r["data"]["command_id"]: r["data"]["reason"] for r in rejected}
    assert reasons == {e.id: reason for reason, e in zip(bad, sent, strict=True)}
    assert all(r["data"]["errors"] for r in rejected)
    assert await stats_since(o.service.port, datetime.now(UTC)) == before


async def test_a_command_sent_twice_has_one_effect(outreach: Outreach) -> None:
    o = outreach
    await _registry(o)
    command = (
        await o.send(warning(o.id("w"), OFFICIAL_ORDER, blocks=[B1], business_types=["catering"]))
    )[0]
    await o.tail.wait_for("outreach.visit_assigned", count=3)

    await o.send(command)

    async def recognised() -> bool:
        return any(
            line.get("event") == "event_received"
            and line.get("event_id") == command.id
            and line.get("duplicate") is True
            for line in o.service.events()
        )

    await eventually(recognised, timeout_s=30, what="the second copy handled as a duplicate")
    assert len(o.tail.of_type("outreach.campaign_launched")) == 1
    assert len(o.tail.of_type("outreach.visit_assigned")) == 3
    await o.stats_once(campaigns=1)
