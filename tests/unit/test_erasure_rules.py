"""Erasing a resident and expiring personal fields through a service's real wiring, in
memory (shared.testing): the facts stated, the records changed, the others kept."""

from datetime import timedelta

from aiokafka.structs import ConsumerRecord

from services.mediation import messages as m
from services.mediation.state import MediatorState
from shared._kit.consuming import Consumer, RetryPolicy
from shared._kit.erasure import PLACEHOLDER
from shared._kit.failures import Failures
from shared._kit.metrics import PlatformMetrics
from tests.unit.batch_support import NoDeadLetters
from tests.unit.test_mediation_rules import case_state, dispute, station, visit


async def test_an_erasure_anonymises_the_party_and_states_how_many_records() -> None:
    scenario = await station()
    await scenario.given(dispute("d-1"), dispute("d-2"))

    outcome = await scenario.when(m.ErasePerson(erasure_id="e-1", phone="+86 139 0000 0001"))

    erased = outcome.one(m.PersonErased)
    assert erased.erasure_id == "e-1"
    # two cases; the processed records of the commands that opened them answered with
    # facts naming her (case_opened): those are anonymised too
    assert erased.records_anonymised >= 2
    case = await case_state(scenario, "case-d-1")
    assert case.parties[0] == m.CaseParty(name=PLACEHOLDER, role="applicant", phone=None)
    assert case.parties[1].name == "Chen"
    assert case.description == PLACEHOLDER


async def test_an_order_sent_again_under_its_erasure_id_states_nothing_new() -> None:
    scenario = await station()
    await scenario.given(dispute("d-1"))
    order = m.ErasePerson(erasure_id="e-1", phone="13900000001")
    assert (await scenario.when(order)).one(m.PersonErased).records_anonymised >= 1

    again = await scenario.when(order)

    assert again.of(m.PersonErased) == []
    assert again.rejected == "erasure_id_taken"  # refused, never silently dropped
    assert (await case_state(scenario, "case-d-1")).parties[0].name == PLACEHOLDER


async def test_an_erasure_of_someone_unknown_changes_nothing() -> None:
    scenario = await station()
    await scenario.given(dispute("d-1"))

    outcome = await scenario.when(m.ErasePerson(erasure_id="e-2", phone="13700000000"))

    assert outcome.one(m.PersonErased).records_anonymised == 0
    assert (await case_state(scenario, "case-d-1")).parties[0].name == "Lei"
    lu = await scenario.state("mediators", "lu", MediatorState)
    assert lu is not None
    assert lu.phone == "13800000000"


async def test_a_closed_case_loses_its_parties_after_the_retention_period() -> None:
    scenario = await station(personal_data_retention_days=90)
    await scenario.given(visit("v-1", on_site=True), dispute("d-1"))
    closed = await case_state(scenario, "case-visit-v-1")
    assert not closed.is_open

    await scenario.advance(timedelta(days=89))
    assert await scenario.runtime.expiry.sweep() == 0
    await scenario.advance(timedelta(days=2))
    assert await scenario.runtime.expiry.sweep() == 1

    after = await case_state(scenario, "case-visit-v-1")
    assert [p.name for p in after.parties] == [PLACEHOLDER, PLACEHOLDER]
    assert after.description == PLACEHOLDER
    still_open = await case_state(scenario, "case-d-1")
    assert still_open.parties[0] == m.CaseParty(name="Lei", role="applicant", phone="13900000001")
    assert await scenario.runtime.expiry.sweep() == 0


async def test_an_erasure_in_the_batch_that_reported_the_dispute_erases_it_too() -> None:
    scenario = await station()
    consumer = Consumer(
        scenario.pipeline,
        "mediation.intake",
        scenario.runtime.routes["mediation.intake"],
        True,
        NoDeadLetters(),
        PlatformMetrics(),
        RetryPolicy(Failures().transient, initial_backoff_s=0),
    )
    orders = [dispute("d-1"), m.ErasePerson(erasure_id="e-1", phone="13900000001")]
    records = [
        ConsumerRecord(
            "mediation.intake",
            0,
            offset,
            0,
            0,
            b"k",
            scenario.envelope(order)[1].to_bytes(),
            None,
            0,
            0,
            [],
        )
        for offset, order in enumerate(orders)
    ]

    await consumer.handle_batch(records)

    case = await case_state(scenario, "case-d-1")
    assert case.parties[0] == m.CaseParty(name=PLACEHOLDER, role="applicant", phone=None)
