"""The contract in docs/ is what the models say, and tolerant readers fit their producers."""

import json
from pathlib import Path

from infra.docs import DOCS, SERVICES, service, stale
from shared import Fact
from shared._kit.contract import offline_runtime
from shared._kit.contract_check import reader_mismatches


def _document(name: str) -> dict[str, object]:
    return dict(json.loads((DOCS / "asyncapi" / f"{name}.json").read_text(encoding="utf-8")))


def test_the_generated_documents_are_current() -> None:
    assert stale() == [], "run `make docs` and commit the result"


def test_the_asyncapi_payload_of_declare_inventory_lists_its_fields() -> None:
    document = _document("enterprise")
    components = document["components"]
    assert isinstance(components, dict)
    message = components["messages"]["enterprise.declare_inventory"]
    data_ref = message["payload"]["properties"]["data"]["$ref"]
    schema = components["schemas"][data_ref.rsplit("/", 1)[-1]]

    assert set(schema["properties"]) == {
        "enterprise_id",
        "cas",
        "movement",
        "quantity_kg",
        "reference",
    }
    assert set(schema["required"]) == {"enterprise_id", "cas", "movement", "quantity_kg"}
    assert document["channels"]["enterprise_intake"]["address"] == "enterprise.intake"  # type: ignore[index]


def test_every_reader_of_another_services_fact_fits_what_that_service_publishes() -> None:
    checked = []
    for name in SERVICES:
        svc = service(name)
        runtime = offline_runtime(svc.name, svc.settings)
        svc.wire(runtime)
        for routes in runtime.routes.values():
            for route in routes.values():
                producer = route.model.prefix()
                if producer == name:
                    continue
                path = DOCS / "asyncapi" / f"{producer}.json"
                assert path.exists(), f"{name} reads {route.model.type}; {path} is missing"
                assert reader_mismatches(route.model, _document(producer)) == []
                checked.append(route.model.type)
    print(f"readers checked: {checked}")


def test_the_check_catches_a_reader_the_producer_does_not_satisfy() -> None:
    class TooDemanding(Fact, type="enterprise.over_capacity_detected", subject="alert_id"):
        alert_id: str
        surplus_kg: str  # published as a number
        stock_kg: float | None = None  # optional here, fine
        chemical_name: int | str  # accepts what is published
        hazard_class: str  # never published

    class Fitting(Fact, type="enterprise.over_capacity_detected", subject="alert_id"):
        alert_id: str
        surplus_kg: float
        control_categories: list[str]

    problems = reader_mismatches(TooDemanding, _document("enterprise"))

    assert problems == [
        "enterprise.over_capacity_detected.surplus_kg: "
        "the published type does not fit the reader's",
        "enterprise.over_capacity_detected.hazard_class: "
        "required by the reader, not published by the producer",
    ]
    assert reader_mismatches(Fitting, _document("enterprise")) == []


def test_the_served_document_is_the_committed_one() -> None:
    from shared._kit.contract import asyncapi, describe, render_json

    svc = service("enterprise")
    runtime = offline_runtime(svc.name, svc.settings)
    svc.wire(runtime)
    assert svc.contract is not None

    served = render_json(asyncapi(describe(runtime, svc.contract)))

    assert served == Path(DOCS / "asyncapi" / "enterprise.json").read_text(encoding="utf-8")
