# ruff: noqa: RUF001
"""The anonymiser: whose records are the person's, what goes, what stays, what validates."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.enterprise.catalogue import ControlCategory
from services.enterprise.messages import GeoPoint, LiaisonOfficer
from services.enterprise.messages import Person as EnterprisePerson
from services.enterprise.state import EnterpriseState
from services.mediation.messages import CaseParty, ErasePerson
from services.mediation.state import CaseState
from services.notifier.messages import MaybeRecipient
from services.notifier.state import Contact, NotificationState
from services.outreach.state import HomeServiceState, HouseholdState
from services.outreach.vocabulary import Member, Requester, ServicePerson
from shared._kit.envelope import CloudEvent
from shared._kit.erasure import (
    ERASED_PHONE,
    PLACEHOLDER,
    Person,
    Scrub,
    normalise_id_number,
    scrubbed_outbox,
    validated,
)
from shared._kit.messages import State
from shared._kit.outbox import PACKED_FROM, entry_cause, entry_events, entry_ids, outbox_entries

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
LEI = Person(phone="13900000001")


def erased(state: State, scrub: Scrub) -> Any:
    """The state as the anonymiser leaves it (learned first, as an erasure does)."""
    data = state.model_dump(mode="python")
    scrub.learn(data)
    scrubbed, _ = scrub.scrubbed(data)
    return validated(type(state), scrubbed)


def case() -> CaseState:
    return CaseState(
        case_id="case-1",
        dispute_id="d-1",
        category="family",
        source="walk_in",
        block="block-01",
        urgency="normal",
        parties=[
            CaseParty(name="雷女士", role="applicant", phone="13900000001"),
            CaseParty(name="陈先生", role="respondent", phone="13900000002"),
        ],
        description="雷女士与陈先生因院墙发生争执",
        opened_at=NOW,
    )


@pytest.mark.parametrize(
    "spelling",
    [
        "13900000001",
        "+86 139 0000 0001",
        "139-0000-0001",
        "".join(chr(ord(c) + 0xFEE0) for c in "13900000001"),  # full-width digits
        "86-13900000001",
    ],
)
def test_a_phone_is_found_in_any_spelling(spelling: str) -> None:
    assert LEI.named_in(f"call {spelling} now")


def test_another_number_is_not_the_persons() -> None:
    assert not LEI.named_in("13900000002")


def test_a_landline_is_found_with_or_without_its_trunk_zero() -> None:
    person = Person(phone="010-12345678")
    assert person.named_in("010 1234 5678")
    assert person.named_in("+86 10 1234 5678")


def test_an_id_number_has_its_check_digit_or_fifteen_digits() -> None:
    assert normalise_id_number("11010519491231002x") == "11010519491231002X"
    assert normalise_id_number("110105491231002") == "110105491231002"
    with pytest.raises(ValueError, match="check digit"):
        normalise_id_number("110105194912310021")
    with pytest.raises(ValueError, match="18 characters"):
        normalise_id_number("1101051949")


def test_an_erasure_names_the_phone_or_the_id_number() -> None:
    with pytest.raises(ValidationError, match="phone or the ID number"):
        ErasePerson(erasure_id="e-1")
    order = ErasePerson(erasure_id="e-1", phone="+86 139-0000-0001")
    assert order.person() == LEI


def test_a_case_loses_the_erased_party_and_its_description_and_keeps_the_other() -> None:
    after = erased(case(), Scrub(LEI, with_person=("description",)))

    assert after.parties[0] == CaseParty(name=PLACEHOLDER, role="applicant", phone=None)
    assert after.parties[1] == CaseParty(name="陈先生", role="respondent", phone="13900000002")
    assert after.description == PLACEHOLDER


def test_a_case_of_someone_else_is_left_as_it_is() -> None:
    assert erased(case(), Scrub(Person(phone="13700000000"))) == case()


def test_a_household_loses_the_member_its_address_and_its_flags() -> None:
    household = HouseholdState(
        household_id="h-1",
        block="block-02",
        address="幸福路12号",
        members=[
            Member(name="王奶奶", age=81, phone="13900000001", mobility_impaired=True),
            Member(name="王小明", age=30, phone="13900000003"),
        ],
        lives_alone_elderly=True,
        prior_fraud_victim=True,
    )

    after = erased(household, Scrub(LEI, with_person=("address",)))

    assert after.members[0].name == PLACEHOLDER
    assert after.members[0].phone is None
    assert after.members[0].mobility_impaired is False
    assert after.members[1] == household.members[1]
    assert after.address == PLACEHOLDER
    assert (after.lives_alone_elderly, after.prior_fraud_victim) == (False, False)


def test_a_phone_its_type_requires_becomes_the_number_nobody_has() -> None:
    home = HomeServiceState(
        request_id="r-1",
        service="id_card_renewal",
        person=ServicePerson(name="王奶奶", age=81),
        requested_by=Requester(name="王小明", relation="grandson", phone="13900000001"),
        address="幸福路12号",
        block="block-02",
        preferred_dates=[date(2026, 6, 3)],
        appointment_date=date(2026, 6, 3),
        officer_id="officer-1",
        officer_name="李警官",
        on_preferred_date=True,
    )

    after = erased(home, Scrub(LEI, with_person=("address", "notes")))

    assert after.requested_by == Requester(
        name=PLACEHOLDER, relation="grandson", phone=ERASED_PHONE
    )
    assert after.address == PLACEHOLDER
    assert after.officer_name == "李警官"
    assert not LEI.named_in(after.model_dump_json())


def test_an_expired_notification_keeps_no_contact_text_or_names_in_its_parameters() -> None:
    sent = NotificationState(
        notification_id="n-1",
        cause_id="c-1",
        cause_type="mediation.mediator_assigned",
        recipient=MaybeRecipient(kind="requester", id="r-1"),
        channel="sms",
        template="mediator_assigned",
        params={"party": "雷女士", "count": 2},
        urgent=False,
        contact=Contact(name="雷女士", phone="13900000001"),
        status="sent",
        text="雷女士您好，调解员将联系您 13900000001",
        created_at=NOW,
        finished_at=NOW,
    )

    after = erased(sent, Scrub(None))

    assert after.contact == Contact(name=PLACEHOLDER, phone=None)
    assert after.text == PLACEHOLDER
    assert after.params == {"party": PLACEHOLDER, "count": 2}
    assert after.done_at() == NOW


def test_a_pending_notification_and_an_open_case_have_not_expired() -> None:
    assert case().finished_at() is None
    closed = case().model_copy(update={"status": "resolved", "closed_at": NOW})
    assert closed.finished_at() == NOW


def test_an_id_number_is_found_in_any_case_and_spacing() -> None:
    person = Person(id_number="11010519491231002X")
    assert person.named_in("身份证 110105 19491231 002x")
    assert not person.named_in("110105194912310021")


def test_an_enterprise_loses_its_contact_and_keeps_its_own_name_and_its_officer() -> None:
    registered = EnterpriseState(
        enterprise_id="ent-1",
        name="丽水皮革厂",
        address="工业园区 1 号",
        location=GeoPoint(lat=28.45, lon=119.92),
        licences=[ControlCategory.DRUG_PRECURSOR_3],
        liaison_officer=LiaisonOfficer(officer_id="o-1", name="吕警官", phone="13800000001"),
        contact=EnterprisePerson(name="雷女士", phone="13900000001"),
    )

    after = erased(registered, Scrub(LEI))

    assert after.contact == EnterprisePerson(name=PLACEHOLDER, phone=ERASED_PHONE)
    assert (after.name, after.address) == ("丽水皮革厂", "工业园区 1 号")
    assert after.liaison_officer == registered.liaison_officer


def test_an_outbox_keeps_its_entries_ids_and_causes_with_their_data_scrubbed() -> None:
    events = [
        CloudEvent(
            id=f"ev-{i}",
            source="/services/mediation",
            type="mediation.case_opened",
            subject=f"case-{i}",
            time=NOW,
            data={"parties": [{"name": "雷女士", "phone": "13900000001"}], "n": i},
        )
        for i in range(PACKED_FROM + 1)
    ]
    outbox = [*outbox_entries(events[:1], "cause-1"), *outbox_entries(events[1:], "cause-2")]

    scrubbed, changed = scrubbed_outbox(Scrub(LEI), outbox)

    assert changed == 2 * len(events)
    assert [entry_cause(e) for e in scrubbed] == ["cause-1", "cause-2"]
    assert [i for e in scrubbed for i in entry_ids(e)] == [e.id for e in events]
    after = [event for entry in scrubbed for event in entry_events(entry)]
    assert {str(e.data) for e in after} == {
        str({"parties": [{"name": PLACEHOLDER, "phone": None}], "n": i}) for i in range(len(events))
    }


def test_a_namesake_who_has_a_phone_of_their_own_keeps_their_record() -> None:
    party = {"name": "雷女士", "role": "respondent", "phone": "13900000009"}
    scrub = Scrub(LEI)
    scrub.learn({"parties": [{"name": "雷女士", "phone": "13900000001"}]})

    assert scrub.scrubbed({"parties": [party]}) == ({"parties": [party]}, 0)


def test_a_name_inside_another_text_is_replaced_there_and_the_text_kept() -> None:
    scrub = Scrub(LEI)
    scrub.learn({"name": "雷女士", "phone": "13900000001"})

    assert scrub.scrubbed("雷女士化工有限公司") == (f"{PLACEHOLDER}化工有限公司", 1)
    assert scrub.scrubbed("陈先生化工有限公司") == ("陈先生化工有限公司", 0)


def test_an_id_or_code_holding_a_learned_name_is_kept_and_texts_lose_it() -> None:
    scrub = Scrub(LEI)
    scrub.learn({"name": "Liu", "phone": "13900000001"})

    out, changed = scrub.scrubbed(
        {"household_id": "hh-Liu-1", "block": "block-01", "description": "Liu saw it"}
    )

    assert out == {
        "household_id": "hh-Liu-1",
        "block": "block-01",
        "description": f"{PLACEHOLDER} saw it",
    }
    assert changed == 1
