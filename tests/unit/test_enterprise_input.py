"""Every bound of the enterprise service's commands, each refused as invalid_data naming
the field, through the service's real pipeline."""

from typing import Any

import pytest

from services.enterprise import messages as m
from services.enterprise.app import SERVICE
from shared import Command
from shared.testing import Scenario
from tests.unit.bounds_support import CJK_65, FOREIGN_PHONE, LONG_ID, TEXT_201, refusal
from tests.unit.test_enterprise_rules import BUTANONE, demand, inventory, register

STORAGE = {"cas": BUTANONE, "capacity_kg": 1}
TRANSFER = m.RespondToTransfer(transfer_id="t-1", enterprise_id="chem-a", accepted=False)
DELIVERY = m.ConfirmDelivery(transfer_id="t-1", delivered_kg=1)
REGISTER = register("chem-a", 10, 20_000)

# command, where the bad value goes, the value, the field named, what the error says
CASES: dict[str, tuple[Command, str, Any, str, str]] = {
    "id_too_long": (REGISTER, "enterprise_id", LONG_ID, "enterprise_id", "at most 64 char"),
    "id_with_space": (REGISTER, "enterprise_id", "chem a", "enterprise_id", "match pattern"),
    "name_too_long": (REGISTER, "name", CJK_65, "name", "at most 64 characters"),
    "name_with_escape": (REGISTER, "name", "a\x1b[2Jb", "name", "control character U+001B"),
    "address_too_long": (REGISTER, "address", TEXT_201, "address", "at most 200 characters"),
    "lat_past_90": (REGISTER, "location.lat", 90.5, "location.lat", "less than or equal to 90"),
    "lon_past_180": (REGISTER, "location.lon", -181, "location.lon", "greater than or equal"),
    "licence_twice": (
        REGISTER,
        "licences",
        ["hazardous", "hazardous"],
        "licences",
        "lists the same entry twice: 'hazardous'",
    ),
    "officer_phone": (
        REGISTER,
        "liaison_officer.phone",
        "12345",
        "liaison_officer.phone",
        "not a Chinese mobile",
    ),
    "contact_phone": (
        REGISTER,
        "contact.phone",
        FOREIGN_PHONE,
        "contact.phone",
        "only country code taken is +86",
    ),
    "storage_cas_twice": (
        REGISTER,
        "storage",
        [STORAGE, {**STORAGE, "capacity_kg": 2}],
        "storage",
        f"lists the same cas twice: '{BUTANONE}'",
    ),
    "storage_too_long": (
        REGISTER,
        "storage",
        [{"cas": f"{n}-00-0", "capacity_kg": 1} for n in range(51)],
        "storage",
        "at most 50 items",
    ),
    "capacity_negative": (
        REGISTER,
        "storage.0.capacity_kg",
        -1,
        "storage.0.capacity_kg",
        "greater than or equal to 0",
    ),
    "capacity_past_max": (
        REGISTER,
        "storage.0.capacity_kg",
        1e9,
        "storage.0.capacity_kg",
        "less than or equal to 100000000",
    ),
    "movement_past_max": (
        inventory("chem-a", "purchase", 1),
        "quantity_kg",
        1e12,
        "quantity_kg",
        "less than or equal to 100000000",
    ),
    "reference_too_long": (
        inventory("chem-a", "purchase", 1),
        "reference",
        TEXT_201,
        "reference",
        "at most 200",
    ),
    "demand_past_max": (demand("chem-a", 1), "quantity_kg", -1e9, "quantity_kg", "greater than"),
    "needed_by_too_early": (
        demand("chem-a", 1),
        "needed_by",
        "1999-12-31",
        "needed_by",
        "greater than or equal to 2000-01-01",
    ),
    "needed_by_too_late": (demand("chem-a", 1), "needed_by", "2100-01-01", "needed_by", "2099"),
    "decline_reason_too_long": (TRANSFER, "reason", TEXT_201, "reason", "at most 200"),
    "transfer_id_too_long": (TRANSFER, "transfer_id", LONG_ID, "transfer_id", "at most 64"),
    "delivery_past_max": (DELIVERY, "delivered_kg", 1e12, "delivered_kg", "less than or equal"),
}


@pytest.mark.parametrize(("command", "path", "value", "field", "says"), CASES.values(), ids=CASES)
async def test_a_value_past_its_bound_is_refused_naming_the_field(
    command: Command, path: str, value: Any, field: str, says: str
) -> None:
    sc = Scenario(SERVICE)
    await sc.given(register("chem-a", 10, 20_000))

    errors = await refusal(sc, command, path, value)

    assert [e.split(": ", 1)[0] for e in errors] == [field]
    assert says in errors[0]


async def test_phones_are_stored_normalised() -> None:
    sc = Scenario(SERVICE)
    registration = REGISTER.model_dump(mode="json")
    registration["contact"]["phone"] = "+86 139-0000-0000"
    registration["liaison_officer"]["phone"] = "(0571) 8765 4321"

    outcome = await sc.when(m.RegisterEnterprise.model_validate(registration))

    stored = outcome.one(m.EnterpriseRegistered)
    assert (stored.contact.phone, stored.liaison_officer.phone) == ("13900000000", "0571-87654321")
