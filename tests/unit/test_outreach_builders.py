"""Builders of outreach commands and readers of its state, for the outreach rule tests.

No tests here: the other `test_outreach_*` modules import these, so each story reads as
the commands a station would send.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from services.outreach import commands as c
from services.outreach.app import SERVICE
from services.outreach.settings import OutreachSettings
from services.outreach.state import ROSTER_ID, BlockVisitsState, RosterState
from services.outreach.store import visits_collection
from shared.testing import Scenario

OFFICIAL_ORDER = "impersonate_official_order"
ELDERLY_CARE = "elderly_care_investment"


def scenario(**settings: Any) -> Scenario[OutreachSettings]:
    return Scenario(SERVICE, **settings)


def household(
    hid: str,
    block: str,
    *,
    ages: Sequence[int] = (45,),
    business: str | None = None,
    alone: bool = False,
    victim: bool = False,
) -> c.RegisterHousehold:
    return c.RegisterHousehold.model_validate(
        {
            "household_id": hid,
            "block": block,
            "address": f"{hid}, {block}",
            "members": [{"name": f"{hid}-{n}", "age": age} for n, age in enumerate(ages)],
            "business_type": business,
            "lives_alone_elderly": alone,
            "prior_fraud_victim": victim,
        }
    )


def volunteer(
    vid: str, blocks: Sequence[str], *, org: str = "community", max_open: int = 10
) -> c.RegisterVolunteer:
    return c.RegisterVolunteer.model_validate(
        {
            "volunteer_id": vid,
            "name": vid.upper(),
            "organisation": org,
            "blocks": list(blocks),
            "phone": "13800000000",
            "max_open_visits": max_open,
        }
    )


def warning(
    wid: str,
    *,
    scheme: str = OFFICIAL_ORDER,
    business_types: Sequence[str] | None = None,
    min_age: int | None = None,
    all_households: bool | None = None,
    blocks: Sequence[str] = (),
    severity: str = "medium",
) -> c.IssueFraudWarning:
    return c.IssueFraudWarning.model_validate(
        {
            "warning_id": wid,
            "scheme": scheme,
            "title": "Callers posing as the fire brigade order catering",
            "description": "Someone orders a banquet in the fire brigade's name, then asks "
            "for a deposit to a 'supplier'.",
            "target": {
                "business_types": list(business_types) if business_types else None,
                "min_age": min_age,
                "all_households": all_households,
            },
            "blocks": list(blocks),
            "severity": severity,
            "issued_by": "station-duty-desk",
        }
    )


def visit_report(
    visit_id: str,
    volunteer_id: str,
    outcome: str = "completed",
    findings: dict[str, Any] | None = None,
) -> c.ReportVisit:
    return c.ReportVisit.model_validate(
        {
            "visit_id": visit_id,
            "volunteer_id": volunteer_id,
            "outcome": outcome,
            "topics_covered": ["telecom_fraud", "fire_safety"],
            "findings": findings,
        }
    )


def attempt(
    rid: str,
    block: str,
    *,
    scheme: str = OFFICIAL_ORDER,
    dissuaded: bool = True,
    amount: int = 21_000,
    household_id: str | None = None,
) -> c.ReportFraudAttempt:
    return c.ReportFraudAttempt.model_validate(
        {
            "report_id": rid,
            "scheme": scheme,
            "block": block,
            "household_id": household_id,
            "channel": "phone",
            "amount_at_risk_yuan": amount,
            "dissuaded": dissuaded,
        }
    )


def home_request(
    rid: str, block: str, dates: Sequence[date], *, age: int = 89
) -> c.RequestHomeService:
    return c.RequestHomeService.model_validate(
        {
            "request_id": rid,
            "service": "id_card_replacement",
            "person": {"name": "Grandma Liu", "age": age, "mobility_impaired": True},
            "requested_by": {"name": "Liu Jun", "relation": "son", "phone": "13900000000"},
            "address": f"7 Lane, {block}",
            "block": block,
            "preferred_dates": [d.isoformat() for d in dates],
        }
    )


async def roster(sc: Scenario[OutreachSettings]) -> RosterState:
    found = await sc.state("roster", ROSTER_ID, RosterState)
    assert found is not None
    return found


async def block_visits(sc: Scenario[OutreachSettings], block: str) -> BlockVisitsState:
    found = await sc.state(visits_collection(block), block, BlockVisitsState)
    assert found is not None
    return found


async def assigned_per_volunteer(sc: Scenario[OutreachSettings]) -> Counter[str]:
    """Visits assigned now, per volunteer, counted from the blocks' own documents."""
    held: Counter[str] = Counter()
    blocks = [c for name, c in sc.db.collections.items() if name.startswith("visits_")]
    for doc in [doc for collection in blocks for doc in collection.docs.values()]:
        state = BlockVisitsState.model_validate(doc["state"])
        held.update(
            v.volunteer_id for v in state.visits if v.volunteer_id and v.status == "assigned"
        )
    return held


async def open_per_volunteer(sc: Scenario[OutreachSettings]) -> Counter[str]:
    """Open visits per volunteer, as the roster counts them."""
    return Counter({v.volunteer_id: v.open_visits for v in (await roster(sc)).volunteers})
