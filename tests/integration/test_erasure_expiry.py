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
from tests.unit.test_mediation_rules import dispute, lu, session

pytestmark = pytest.mark.integration


async def test_a_closed_case_loses_its_parties_names_and_phones(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    scenario = Scenario(SERVICE, db=mongo_db, personal_data_retention_days=30)
    await scenario.given(lu(), dispute("d-1"), dispute("d-2"))
    # three sessions without agreement: escalated to court, the case closes
    await scenario.given(*[session("case-d-1", "no_agreement") for _ in range(3)])

    async def case(case_id: str) -> CaseState:
        found = await scenario.state("cases", case_id, CaseState)
        assert found is not None
        return found

    closed_at = (await case("case-d-1")).closed_at
    assert closed_at is not None
    await scenario.advance(closed_at + timedelta(days=29) - scenario.clock.now())
    assert await scenario.runtime.expiry.sweep() == 0
    assert (await case("case-d-1")).parties[0].phone == "13900000001"

    await scenario.advance(timedelta(days=2))
    assert await scenario.runtime.expiry.sweep() == 1

    closed = await case("case-d-1")
    assert [(p.name, p.phone) for p in closed.parties] == [(PLACEHOLDER, None)] * 3
    assert closed.description == PLACEHOLDER
    stored = await mongo_db["cases"].find_one({"_id": "case-d-1"})
    assert stored is not None
    assert "13900000001" not in str(stored)
    assert "Lei" not in str(stored)
    # the open case keeps its applicant's name and phone
    assert (await case("case-d-2")).parties[0] == m.CaseParty(
        name="Lei", role="applicant", phone="13900000001"
    )
    assert await scenario.runtime.expiry.sweep() == 0
