"""The outreach service's campaign rules through its real wiring, in memory (shared.testing).

The seed stories (domain.md, story 4): a warning about callers posing as the fire brigade
ordering catering reaches the restaurants of two blocks; a restaurant owner talks a
21,000-yuan "order" out; a couple's quarrel is settled on a visit.
"""

from collections import Counter
from datetime import timedelta

from services.outreach import messages as m
from services.outreach.settings import OutreachSettings
from shared import Command
from shared.testing import Scenario
from tests.unit.test_outreach_builders import (
    ELDERLY_CARE,
    assigned_per_volunteer,
    block_visits,
    household,
    open_per_volunteer,
    scenario,
    visit_report,
    volunteer,
    warning,
)

B1, B2, B3 = "block-01", "block-02", "block-03"


def seed_registry() -> list[Command]:
    return [
        household("zheng-restaurant", B1, ages=(46,), business="catering"),
        household("noodle-bar", B1, ages=(38,), business="catering"),
        household("hotpot", B1, ages=(51,), business="catering", victim=True),
        household("ye-gold-shop", B1, ages=(29,), business="gold_shop"),
        household("grandma-wu", B1, ages=(88,), alone=True),
        household("tea-house", B2, ages=(60,), business="catering"),
        household("dumplings", B2, ages=(33,), business="catering"),
        household("the-wus", B2, ages=(41, 39)),
        household("bakery-b3", B3, ages=(30,), business="catering"),
    ]


def seed_volunteers() -> list[Command]:
    return [
        volunteer("bank-li", [B1], org="bank", max_open=5),
        volunteer("grid-chen", [B1], org="grid_worker", max_open=5),
        volunteer("federation-xu", [B2], org="womens_federation", max_open=5),
        volunteer("officer-lu", [B1, B2], org="police", max_open=5),
    ]


async def seeded() -> Scenario[OutreachSettings]:
    sc = scenario()
    await sc.given(*seed_registry(), *seed_volunteers())
    return sc


async def test_a_warning_to_catering_in_two_blocks_visits_only_restaurants_balanced() -> None:
    sc = await seeded()

    outcome = await sc.when(warning("w-fire", business_types=["catering"], blocks=[B1, B2]))

    launched = outcome.one(m.CampaignLaunched)
    assigned = outcome.of(m.VisitAssigned)
    assert (launched.trigger, launched.scheme, launched.blocks) == (
        "warning",
        "impersonate_official_order",
        [B1, B2],
    )
    assert (launched.households_targeted, launched.visits_planned) == (5, 5)
    assert sorted(a.household_id for a in assigned) == [
        "dumplings",
        "hotpot",
        "noodle-bar",
        "tea-house",
        "zheng-restaurant",
    ], "restaurants of blocks 1 and 2 only: no gold shop, no household, not block 3"
    assert {a.campaign_id for a in assigned} == {launched.campaign_id}
    assert all(a.topics == ["impersonate_official_order"] for a in assigned)
    assert outcome.of(m.CoverageGapDetected) == []
    per_volunteer = Counter(a.volunteer_id for a in assigned)
    assert max(per_volunteer.values()) - min(per_volunteer.values()) <= 1, per_volunteer
    first = max(assigned, key=lambda a: a.priority)
    assert first.household_id == "hotpot", "the earlier victim comes first"
    assert assigned[0] == first, "published highest priority first"
    assert await assigned_per_volunteer(sc) == await open_per_volunteer(sc)
    # the blocks' visits are published as each block is stored, after the campaign, once
    types = [e.type for e in outcome.events]
    assert types.index(m.CampaignLaunched.type) < types.index(m.VisitAssigned.type)
    assert len({e.id for e in outcome.events}) == len(outcome.events), "each event once"


async def test_the_restaurant_owner_talks_a_21000_yuan_order_out_and_it_is_counted() -> None:
    sc = await seeded()
    campaign = await sc.when(warning("w-fire", business_types=["catering"], blocks=[B1]))
    visit = next(a for a in campaign.of(m.VisitAssigned) if a.household_id == "zheng-restaurant")
    finding = {"fraud_dissuaded": {"scheme": "impersonate_official_order", "amount_yuan": 21_000}}

    outcome = await sc.when(visit_report(visit.visit_id, visit.volunteer_id, findings=finding))

    dissuaded = outcome.one(m.FraudDissuaded)
    assert (dissuaded.source_id, dissuaded.household_id, dissuaded.block) == (
        visit.visit_id,
        "zheng-restaurant",
        B1,
    )
    assert (dissuaded.amount_yuan, dissuaded.source) == (21_000, "visit")
    done = outcome.one(m.VisitCompleted)
    assert (done.outcome, done.retry, done.volunteer_id) == ("completed", False, visit.volunteer_id)
    stats = await sc.stats()
    assert (stats["fraud_dissuaded"], stats["fraud_dissuaded_yuan"]) == (1, 21_000)
    assert stats["visits_by_state"]["completed"] == 1


async def test_a_couples_quarrel_settled_on_a_visit_is_a_dispute_for_mediation() -> None:
    sc = await seeded()
    campaign = await sc.when(warning("w-all", all_households=True, blocks=[B2]))
    visit = next(a for a in campaign.of(m.VisitAssigned) if a.household_id == "the-wus")
    quarrel = {
        "dispute": {
            "category": "family",
            "parties": [
                {"name": "Wu Gang", "role": "applicant"},
                {"name": "Wu Li", "role": "respondent"},
            ],
            "description": "A quarrel over money lent to a cousin, settled on the spot.",
            "resolved_on_site": True,
        }
    }

    outcome = await sc.when(visit_report(visit.visit_id, visit.volunteer_id, findings=quarrel))

    dispute = outcome.one(m.DisputeDetected)
    assert (dispute.visit_id, dispute.household_id, dispute.block) == (
        visit.visit_id,
        "the-wus",
        B2,
    )
    assert (dispute.category, dispute.resolved_on_site) == ("family", True)
    assert [p.role for p in dispute.parties] == ["applicant", "respondent"]
    assert (dispute.found_by, dispute.found_by_name) == (
        visit.volunteer_id,
        visit.volunteer_name,
    )
    assert (await sc.stats())["disputes_found"] == 1


async def test_a_household_visited_about_a_scheme_is_left_out_for_30_days() -> None:
    sc = await seeded()
    first = await sc.when(warning("w-1", business_types=["catering"], blocks=[B1]))
    visit = next(a for a in first.of(m.VisitAssigned) if a.household_id == "hotpot")
    await sc.given(visit_report(visit.visit_id, visit.volunteer_id))
    await sc.advance(timedelta(days=29))

    again = await sc.when(warning("w-2", business_types=["catering"], blocks=[B1]))
    other_scheme = await sc.when(
        warning("w-3", scheme=ELDERLY_CARE, business_types=["catering"], blocks=[B1])
    )
    await sc.advance(timedelta(days=2))
    later = await sc.when(warning("w-4", business_types=["catering"], blocks=[B1]))

    relaunched = again.one(m.CampaignLaunched)
    assert (relaunched.households_targeted, relaunched.visits_planned) == (3, 0), (
        "hotpot was visited 29 days ago; the other two still have open visits"
    )
    assert relaunched.recently_visited == 3
    assert len(other_scheme.of(m.VisitAssigned)) == 3, "another scheme: visited again"
    assert [a.household_id for a in later.of(m.VisitAssigned)] == ["hotpot"], (
        "31 days on, hotpot is due again; the open visits still keep the others out"
    )


async def test_high_severity_is_due_sooner() -> None:
    sc = await seeded()

    high = await sc.when(warning("w-high", business_types=["catering"], severity="high"))
    low = await sc.when(
        warning("w-low", scheme=ELDERLY_CARE, business_types=["catering"], severity="low")
    )

    now = sc.clock.now()
    assert {a.due_by - now for a in high.of(m.VisitAssigned)} == {timedelta(days=2)}
    assert {a.due_by - now for a in low.of(m.VisitAssigned)} == {timedelta(days=14)}


async def test_a_block_without_room_is_a_coverage_gap_filled_when_a_volunteer_registers() -> None:
    sc = await seeded()
    campaign = await sc.when(warning("w-gap", business_types=["catering"], blocks=[B1, B3]))

    gap = campaign.one(m.CoverageGapDetected)
    assert (gap.block, gap.households_unassigned) == (B3, 1)
    assert [a.block for a in campaign.of(m.VisitAssigned)] == [B1] * 3

    joined = await sc.when(volunteer("community-he", [B3], max_open=3))

    [late] = joined.of(m.VisitAssigned)
    assert (late.household_id, late.volunteer_id, late.campaign_id) == (
        "bakery-b3",
        "community-he",
        gap.campaign_id,
    )
    assert joined.one(m.VolunteerRegistered).volunteer_id == "community-he"
    assert (await sc.stats())["coverage_by_block"][B3]["visits_waiting"] == 0


async def test_waiting_visits_go_to_a_volunteer_who_frees_up_highest_priority_first() -> None:
    sc = scenario()
    homes = [household(f"h{n}", B1, ages=(age,)) for n, age in enumerate((61, 66, 72, 85))]
    await sc.given(*homes, household("alone", B1, ages=(90,), alone=True))
    await sc.given(volunteer("only", [B1], max_open=2))
    campaign = await sc.when(warning("w", min_age=60, blocks=[B1]))
    first = campaign.of(m.VisitAssigned)
    assert [a.household_id for a in first] == ["alone", "h3"]
    assert campaign.one(m.CoverageGapDetected).households_unassigned == 3

    freed = await sc.when(visit_report(first[0].visit_id, "only"))

    [next_one] = freed.of(m.VisitAssigned)
    assert (next_one.household_id, next_one.volunteer_id) == ("h1", "only"), (
        "the freed slot takes the highest-priority waiting visit (66 before 61)"
    )
    assert (await open_per_volunteer(sc))["only"] == 2
    assert await assigned_per_volunteer(sc) == await open_per_volunteer(sc)


async def test_nobody_is_given_more_than_their_maximum() -> None:
    sc = scenario()
    await sc.given(*[household(f"h{n:02}", B1, ages=(70,)) for n in range(12)])
    await sc.given(volunteer("v1", [B1], max_open=3), volunteer("v2", [B1], max_open=4))

    outcome = await sc.when(warning("w", min_age=65, blocks=[B1]))

    held = Counter(a.volunteer_id for a in outcome.of(m.VisitAssigned))
    assert held == {"v1": 3, "v2": 4}
    assert outcome.one(m.CoverageGapDetected).households_unassigned == 5
    assert await open_per_volunteer(sc) == held
    assert (await block_visits(sc, B1)).summary == {"assigned": 7, "waiting": 5}


async def test_a_redelivered_warning_has_no_second_effect() -> None:
    sc = await seeded()
    command = warning("w-once", business_types=["catering"], blocks=[B1, B2])

    first = await sc.when(command, id="warning-cmd-1")
    again = await sc.when(command, id="warning-cmd-1")
    other = await sc.when(command, id="warning-cmd-2")

    assert len(first.of(m.VisitAssigned)) == 5
    assert again.events == [], "the same command again: nothing new"
    assert other.rejected == "warning_already_issued"
    assert (await sc.stats())["campaigns"] == 1
    assert await assigned_per_volunteer(sc) == await open_per_volunteer(sc)


async def test_a_household_registered_again_in_another_block_moves_in_the_registry() -> None:
    sc = scenario()
    await sc.given(household("movers", B1, ages=(70,)), volunteer("v", [B1, B2]))
    await sc.given(household("movers", B2, ages=(70,), alone=True))

    old_block = await sc.when(warning("w-1", min_age=65, blocks=[B1]))
    new_block = await sc.when(warning("w-2", scheme=ELDERLY_CARE, min_age=65, blocks=[B2]))

    assert old_block.one(m.CampaignLaunched).households_targeted == 0
    moved = new_block.one(m.VisitAssigned)
    assert (moved.household_id, moved.block, moved.priority) == ("movers", B2, 5)
    coverage = (await sc.stats())["coverage_by_block"]
    assert (coverage[B1]["households"], coverage[B2]["households"]) == (0, 1)


async def test_a_volunteer_given_more_room_takes_waiting_visits() -> None:
    sc = scenario()
    await sc.given(*[household(f"h{n}", B1, ages=(70,)) for n in range(5)])
    await sc.given(volunteer("v", [B1], max_open=2))
    await sc.given(warning("w", min_age=65, blocks=[B1]))

    more_room = await sc.when(volunteer("v", [B1], max_open=4))
    less_room = await sc.when(volunteer("v", [B1], max_open=1))

    assert len(more_room.of(m.VisitAssigned)) == 2
    assert more_room.one(m.VolunteerRegistered).open_visits == 2, "as registered, before"
    assert less_room.of(m.VisitAssigned) == []
    assert (await open_per_volunteer(sc))["v"] == 4, "open visits stay with a lower maximum"
    assert (await block_visits(sc, B1)).summary == {"assigned": 4, "waiting": 1}
