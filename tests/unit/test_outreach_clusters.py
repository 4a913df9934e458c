"""Fraud attempt reports: dissuaded ones count, and a cluster of one scheme in one block
within a day launches one campaign there (shared.testing, in memory)."""

from datetime import timedelta

from services.outreach import messages as m
from tests.unit.test_outreach_builders import (
    ELDERLY_CARE,
    OFFICIAL_ORDER,
    attempt,
    household,
    scenario,
    volunteer,
)

B4, B5 = "block-04", "block-05"


async def test_a_dissuaded_attempt_is_fraud_dissuaded_with_its_amount() -> None:
    sc = scenario()
    await sc.given(household("zheng-restaurant", B4, business="catering"))

    talked_out = await sc.when(attempt("r-1", B4, household_id="zheng-restaurant"))
    lost = await sc.when(attempt("r-2", B4, dissuaded=False, amount=5_000))

    dissuaded = talked_out.one(m.FraudDissuaded)
    assert (dissuaded.source_id, dissuaded.household_id, dissuaded.amount_yuan) == (
        "r-1",
        "zheng-restaurant",
        21_000,
    )
    assert dissuaded.source == "attempt_report"
    assert lost.of(m.FraudDissuaded) == []
    assert lost.one(m.FraudAttemptReported).dissuaded is False
    stats = await sc.stats()
    assert (stats["fraud_dissuaded"], stats["fraud_dissuaded_yuan"]) == (1, 21_000)
    assert stats["fraud_attempts_reported"] == 2


async def test_three_reports_of_one_scheme_in_one_block_in_a_day_launch_one_campaign() -> None:
    sc = scenario()
    await sc.given(*[household(f"h{n}", B4, ages=(30 + 20 * n,)) for n in range(3)])
    await sc.given(household("elsewhere", B5), volunteer("grid-wang", [B4], org="grid_worker"))

    first = await sc.when(attempt("r-1", B4))
    await sc.advance(timedelta(hours=10))
    second = await sc.when(attempt("r-2", B4))
    await sc.advance(timedelta(hours=10))
    third = await sc.when(attempt("r-3", B4))
    await sc.advance(timedelta(hours=5))
    fourth = await sc.when(attempt("r-4", B4))
    fifth = await sc.when(attempt("r-5", B4))

    assert first.of(m.CampaignLaunched) == second.of(m.CampaignLaunched) == []
    launched = third.one(m.CampaignLaunched)
    assert (launched.trigger, launched.scheme, launched.blocks) == (
        "fraud_cluster",
        OFFICIAL_ORDER,
        [B4],
    )
    assert (launched.severity, launched.households_targeted) == ("high", 3)
    assert sorted(a.household_id for a in third.of(m.VisitAssigned)) == ["h0", "h1", "h2"]
    assert fourth.of(m.CampaignLaunched) == fifth.of(m.CampaignLaunched) == [], (
        "later reports join the cluster: one campaign, not three"
    )
    assert (await sc.stats())["campaigns_by_trigger"] == {"fraud_cluster": 1}


async def test_reports_spread_over_more_than_a_day_or_over_schemes_are_no_cluster() -> None:
    sc = scenario()
    await sc.given(household("h", B4))

    await sc.given(attempt("r-1", B4), attempt("r-2", B4))
    await sc.advance(timedelta(hours=25))
    late = await sc.when(attempt("r-3", B4))
    other_scheme = await sc.when(attempt("r-4", B4, scheme=ELDERLY_CARE))
    other_block = await sc.when(attempt("r-5", B5))

    assert late.of(m.CampaignLaunched) == []
    assert other_scheme.of(m.CampaignLaunched) == other_block.of(m.CampaignLaunched) == []
    assert (await sc.stats())["fraud_clusters"] == 0


async def test_a_new_cluster_after_a_quiet_day_launches_a_second_campaign() -> None:
    sc = scenario()
    await sc.given(household("h", B4), volunteer("v", [B4]))
    await sc.given(attempt("r-1", B4), attempt("r-2", B4), attempt("r-3", B4))
    await sc.advance(timedelta(hours=30))

    await sc.given(attempt("r-4", B4), attempt("r-5", B4))
    again = await sc.when(attempt("r-6", B4))

    relaunched = again.one(m.CampaignLaunched)
    assert relaunched.trigger == "fraud_cluster"
    assert relaunched.visits_planned == 0, "the household's visit about it is still open"
    assert (await sc.stats())["fraud_clusters"] == 2


async def test_a_report_sent_twice_counts_once() -> None:
    sc = scenario()
    await sc.given(household("h", B4))
    await sc.given(attempt("r-1", B4), attempt("r-2", B4))

    again = await sc.when(attempt("r-2", B4))
    third = await sc.when(attempt("r-3", B4))

    assert again.rejected == "report_already_recorded"
    assert third.one(m.CampaignLaunched).trigger == "fraud_cluster"
    assert (await sc.stats())["fraud_attempts_reported"] == 3
