"""Personal fields: marked where a fact is defined, left off its public copy, read whole
only by the readers that declare it."""

import json
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel

from infra.docs import DOCS
from services.mediation import messages as mediation
from services.notifier import readers as notifier
from services.outreach.messages import DisputeDetected, HomeServiceScheduled, HouseholdRegistered
from services.outreach.vocabulary import Member, Party, Requester, ServicePerson
from shared import PERSONAL, Fact
from shared._kit.contract import offline_runtime
from shared._kit.contract_check import reader_mismatches
from shared._kit.envelope import CloudEvent
from shared._kit.personal import copies, personal_paths, personal_paths_of, public_data
from shared._kit.runtime import Runtime
from shared._kit.settings import ServiceSettings


class _Contact(BaseModel):
    contact_id: str
    name: Annotated[str, PERSONAL]
    phone: Annotated[str | None, PERSONAL] = None


class _Visit(Fact, type="kitpersonal.visit_made", subject="visit_id"):
    visit_id: str
    block: str
    address: Annotated[str, PERSONAL]
    host: _Contact
    guests: list[_Contact]
    helper: _Contact | None = None


class _Plain(Fact, type="kitpersonal.counted", subject="count_id"):
    count_id: str
    total: int


def _event(fact: Fact) -> CloudEvent:
    return CloudEvent(
        id="e-1",
        source="/services/kitpersonal",
        type=fact.type,
        subject=fact.subject_value(),
        data=fact.model_dump(mode="json"),
    )


VISIT = _Visit(
    visit_id="v-1",
    block="block-07",
    address="No. 3 East Street",
    host=_Contact(contact_id="c-1", name="Zheng", phone="13800000001"),
    guests=[_Contact(contact_id="c-2", name="Ye"), _Contact(contact_id="c-3", name="Lei")],
)


def test_the_marked_fields_are_found_in_parts_lists_and_optional_parts() -> None:
    paths = personal_paths(_Visit)

    assert paths == (
        ("address",),
        ("host", "name"),
        ("host", "phone"),
        ("guests", "*", "name"),
        ("guests", "*", "phone"),
        ("helper", "name"),
        ("helper", "phone"),
    )
    assert personal_paths_of("kitpersonal.visit_made") == paths
    assert personal_paths_of("kitpersonal.counted") == ()


def test_the_public_copy_drops_exactly_the_marked_fields_and_keeps_ids() -> None:
    [(events, [public]), (private, [whole])] = copies("kp.events", "kp.private", [_event(VISIT)])

    assert (events, private) == ("kp.events", "kp.private")
    assert public.data == {
        "visit_id": "v-1",
        "block": "block-07",
        "host": {"contact_id": "c-1"},
        "guests": [{"contact_id": "c-2"}, {"contact_id": "c-3"}],
        "helper": None,
    }
    assert whole.data == VISIT.model_dump(mode="json")
    assert (public.id, public.type, public.subject, public.key) == (
        whole.id,
        whole.type,
        whole.subject,
        whole.key,
    )


def test_a_fact_without_personal_fields_goes_once_to_the_events_topic() -> None:
    plain = _event(_Plain(count_id="n-1", total=3))

    assert copies("kp.events", "kp.private", [plain]) == [("kp.events", [plain])]


def test_without_a_private_topic_every_event_goes_whole() -> None:
    event = _event(VISIT)

    assert copies("kp.events", None, [event]) == [("kp.events", [event])]


def test_data_that_lacks_a_marked_part_is_left_as_it_is() -> None:
    paths = personal_paths(_Visit)

    assert public_data({"visit_id": "v", "guests": "odd"}, paths) == {
        "visit_id": "v",
        "guests": "odd",
    }


def test_two_classes_of_one_type_that_mark_different_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="marks"):

        class _Other(Fact, type="kitpersonal.visit_made", subject="visit_id"):
            visit_id: str
            block: Annotated[str, PERSONAL]


def test_outreach_marks_residents_volunteers_and_parties_not_ids_or_blocks() -> None:
    assert {p[-1] for p in personal_paths(Member)} == {"name", "age", "phone", "mobility_impaired"}
    assert personal_paths(Party) == (("name",),)
    assert personal_paths(Requester) == (("name",), ("phone",))
    assert ("age",) in personal_paths(ServicePerson)
    household = personal_paths(HouseholdRegistered)
    assert ("lives_alone_elderly",) in household
    assert ("prior_fraud_victim",) in household
    assert ("address",) in household
    assert ("household_id",) not in household
    assert ("block",) not in household
    assert personal_paths(DisputeDetected) == (
        ("parties", "*", "name"),
        ("description",),
        ("found_by_name",),
    )
    assert ("requested_by", "phone") in personal_paths(HomeServiceScheduled)


def _runtime(service: str) -> Runtime[ServiceSettings]:
    from infra.docs import service as service_of

    svc = service_of(service)
    runtime = offline_runtime(svc.name, svc.settings)
    svc.wire(runtime)
    return runtime


def test_the_readers_of_phones_names_and_parties_read_the_private_topics() -> None:
    notifier_routes = _runtime("notifier").routes
    mediation_routes = _runtime("mediation").routes

    assert set(notifier_routes["outreach.private"]) == {
        "outreach.volunteer_registered",
        "outreach.visit_assigned",
        "outreach.home_service_scheduled",
    }
    assert set(notifier_routes["enterprise.private"]) == {
        "enterprise.enterprise_registered",
        "enterprise.over_capacity_detected",
    }
    assert set(notifier_routes["mediation.private"]) == {
        "mediation.mediator_registered",
        "mediation.mediator_assigned",
    }
    assert set(notifier_routes["outreach.events"]) == {"outreach.coverage_gap_detected"}
    assert set(mediation_routes["outreach.private"]) == {"outreach.dispute_detected"}
    assert "outreach.events" not in mediation_routes
    # its own facts with personal fields whole, from its own private topic
    assert "mediation.case_opened" in mediation_routes["mediation.private"]
    assert "mediation.case_resolved" in mediation_routes["mediation.events"]


def test_a_service_that_states_personal_facts_checks_its_private_topic_at_start() -> None:
    assert "outreach.private" in _runtime("outreach").topics
    assert "notifier.private" not in _runtime("notifier").topics


def _document(name: str) -> dict[str, object]:
    return dict(json.loads(Path(DOCS / "asyncapi" / f"{name}.json").read_text(encoding="utf-8")))


def test_a_reader_of_the_public_topic_may_not_read_a_personal_field() -> None:
    class PublicParties(Fact, type="outreach.dispute_detected", subject="visit_id"):
        visit_id: str
        parties: list[mediation.VisitParty]

    problems = reader_mismatches(PublicParties, _document("outreach"))

    assert problems == [
        "outreach.dispute_detected.parties[].name: personal, published only on the private "
        "topic (declare the reader private=True)"
    ]
    assert reader_mismatches(mediation.DisputeDetected, _document("outreach")) == []
    assert reader_mismatches(notifier.HomeServiceScheduled, _document("outreach")) == []


def test_the_asyncapi_document_shows_the_private_channel_and_what_moved() -> None:
    document = _document("outreach")
    channels = document["channels"]
    assert isinstance(channels, dict)

    assert channels["outreach_private"]["address"] == "outreach.private"
    assert "dispute_detected" in channels["outreach_private"]["messages"]
    assert "campaign_launched" not in channels["outreach_private"]["messages"]
    components = document["components"]
    assert isinstance(components, dict)
    message = components["messages"]["outreach.dispute_detected"]
    assert message["x-personal-fields"] == ["parties[].name", "description", "found_by_name"]


async def test_a_scenario_splits_as_kafka_does_and_its_outcome_keeps_the_whole_fact() -> None:
    from services.outreach.app import SERVICE as OUTREACH
    from shared.testing import Scenario
    from tests.unit.test_outreach_builders import household

    scenario = Scenario(OUTREACH)
    outcome = await scenario.when(household("hh-li", "block-03", ages=(84,), alone=True))

    [stated] = outcome.of(HouseholdRegistered)
    assert stated.lives_alone_elderly is True
    [public] = scenario.on_topic("outreach.events")
    [whole] = scenario.on_topic("outreach.private")
    assert public.id == whole.id
    assert public.data == {
        "household_id": "hh-li",
        "block": "block-03",
        "members": [{}],
        "business_type": None,
    }
    assert whole.data is not None
    assert whole.data["lives_alone_elderly"] is True


async def test_mediation_opens_a_case_from_a_dispute_read_whole_from_the_private_topic() -> None:
    from services.mediation.app import SERVICE as MEDIATION
    from shared.testing import Scenario

    scenario = Scenario(MEDIATION)
    topic, _event = scenario.envelope(
        mediation.DisputeDetected(visit_id="v-1", category="family", parties=[])
    )
    found = mediation.DisputeDetected(
        visit_id="v-2",
        household_id="hh-wu",
        block="block-07",
        category="family",
        parties=[mediation.VisitParty(name="Wu Gang", role="applicant")],
        description="a quarrel",
    )
    outcome = await scenario.when(found)

    assert topic == "outreach.private"
    [opened] = outcome.of(mediation.CaseOpened)
    assert [p.name for p in opened.parties] == ["Wu Gang"]
    [public] = [e for e in scenario.on_topic("mediation.events") if e.type == opened.type]
    assert public.data is not None
    assert public.data["parties"] == [{"role": "applicant"}]
