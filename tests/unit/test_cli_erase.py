"""`station erase`: the orders it sends, the answers it counts, the numbers it refuses."""

from typer.testing import CliRunner

from cli.app import app
from cli.erase import Answers, _Order, orders
from cli.events import SERVICES
from tests.unit.cli_events import ev

ORDER = _Order(erasure_id="erasure-1", phone="+86 139 0000 0001")


def answers() -> Answers:
    return Answers("erasure-1", {s: f"cmd-{s}" for s in SERVICES})


def test_one_order_per_service_under_the_erasure_id_with_the_normalised_number() -> None:
    sent = orders(ORDER)

    assert sorted(e.type for e in sent) == sorted(f"{s}.erase_person" for s in SERVICES)
    assert {e.subject for e in sent} == {"erasure-1"}
    assert {str(e.data) for e in sent} == {str({"erasure_id": "erasure-1", "phone": "13900000001"})}


def test_every_service_erased_is_complete_and_nothing_failed() -> None:
    found = answers()
    for service in SERVICES:
        found.take(
            ev(
                f"{service}.person_erased",
                f"f-{service}",
                erasure_id="erasure-1",
                records_anonymised=2,
            )
        )

    assert found.complete
    assert found.failed == []
    assert found.erased == dict.fromkeys(SERVICES, 2)


def test_another_erasure_and_another_services_fact_are_not_counted() -> None:
    found = answers()
    found.take(ev("mediation.person_erased", "f-1", erasure_id="erasure-2", records_anonymised=1))
    found.take(
        ev(
            "mediation.person_erased",
            "f-2",
            topic="outreach.events",
            erasure_id="erasure-1",
            records_anonymised=1,
        )
    )

    assert found.erased == {}


def test_a_refusal_ends_the_wait_for_that_service_and_fails_it() -> None:
    found = answers()
    found.take(ev("notifier.command_rejected", "r-1", cause="cmd-notifier", reason="unknown"))
    for service in ("mediation", "enterprise", "outreach"):
        found.take(
            ev(
                f"{service}.person_erased",
                f"f-{service}",
                erasure_id="erasure-1",
                records_anonymised=0,
            )
        )

    assert found.complete
    assert found.failed == ["notifier"]


def test_a_number_that_is_neither_a_phone_nor_an_id_number_sends_nothing() -> None:
    result = CliRunner().invoke(app, ["erase", "--phone", "12345", "--lang", "en"])
    assert result.exit_code == 2
    assert "cannot erase" in result.output

    result = CliRunner().invoke(app, ["erase", "--id-number", "110105194912310021"])
    assert result.exit_code == 2

    result = CliRunner().invoke(app, ["erase", "--lang", "en"])
    assert result.exit_code == 2
    assert "phone or the ID number" in result.output
