"""Personal fields expiring on the real MongoDB-compatible server: the mediation service's
real wiring on a database of its own (shared.testing's scenario over FerretDB), its clock
advanced past the retention period, never slept through."""

from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.mediation import messages as m
from services.mediation.app import SERVICE
from services.mediation.state import CaseState
from shared._kit.erasure import PLACEHOLDER
from shared.testing import Scenario
from tests.unit.test_mediation_rules import dispute, lu, visit

pytestmark = pytest.mark.integration


async def test_a_closed_case_loses_its_parties_names_and_phones(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    scenario = Scenario(SERVICE, db=mongo_db, personal_data_retention_days=30)
    await scenario.given(lu())
    settled = visit("v-1", on_site=True, category="construction_payment")
    await scenario.given(
        settled.model_copy(
            update={"parties": [m.VisitParty(name="Mr. Wu", role="husband"), *settled.parties]}
        ),
        dispute("d-1"),
    )

    async def case(case_id: str) -> CaseState:
        found = await scenario.state("cases", case_id, CaseState)
        assert found is not None
        return found

    assert not (await case("case-visit-v-1")).is_open
    await scenario.advance(timedelta(days=29))
    assert await scenario.runtime.expiry.sweep() == 0
    assert (await case("case-visit-v-1")).parties[0].name == "Mr. Wu"

    await scenario.advance(timedelta(days=2))
    assert await scenario.runtime.expiry.sweep() == 1

    closed = await case("case-visit-v-1")
    assert {p.name for p in closed.parties} == {PLACEHOLDER}
    assert closed.description == PLACEHOLDER
    stored = await mongo_db["cases"].find_one({"_id": "case-visit-v-1"})
    assert stored is not None
    assert "Wu" not in str(stored)
    # the open case keeps its applicant's name and phone
    assert (await case("case-d-1")).parties[0] == m.CaseParty(
        name="Lei", role="applicant", phone="13900000001"
    )
