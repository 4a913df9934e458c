"""The enterprise service's contract: the commands it takes, the facts it states, why it refuses.

Each class carries its CloudEvents type and the field that is its subject (the Kafka
key). `docs/contract.md` and `docs/asyncapi/enterprise.json` are generated from here.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.enterprise.catalogue import ControlCategory
from shared import (
    PERSONAL,
    Command,
    Day,
    Distinct,
    EraseOrder,
    Fact,
    Id,
    Kilograms,
    Name,
    PersonErasedFact,
    PhoneNumber,
    Reason,
    ShortText,
    SignedKilograms,
    Timer,
    bounded,
    distinct_by,
)

Movement = Literal["purchase", "consumption", "sale", "stocktake"]
# what moved stock in an inventory_changed: a declared movement, or the service itself
StockChange = Movement | Literal["registration", "transfer_out", "transfer_in"]
EscalationReason = Literal["no_eligible_recipient", "declined", "expired"]

# the chemicals one enterprise may be permitted to store (the catalogue is far smaller)
STORAGE_MAX = 50


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class GeoPoint(_Part):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Person(_Part):
    """A contact or liaison officer: their name and phone travel on `enterprise.private`."""

    name: Annotated[Name, PERSONAL]
    phone: Annotated[PhoneNumber, PERSONAL]


class LiaisonOfficer(Person):
    officer_id: Id


class PermittedStorage(_Part):
    cas: Id
    capacity_kg: Kilograms


class ProposedTransfer(_Part):
    transfer_id: str
    to_enterprise_id: str
    to_name: str
    quantity_kg: float
    distance_km: float


class _Registration(_Part):
    enterprise_id: Id
    name: Name
    address: ShortText
    location: GeoPoint
    licences: Annotated[list[ControlCategory], bounded(len(ControlCategory)), Distinct]
    liaison_officer: LiaisonOfficer
    contact: Person
    storage: Annotated[list[PermittedStorage], bounded(STORAGE_MAX), distinct_by("cas")] = []


# -- commands on enterprise.intake ------------------------------------------------------


class RegisterEnterprise(
    _Registration, Command, type="enterprise.register_enterprise", subject="enterprise_id"
):
    """Register an enterprise, or update its registration (stock and promises stay)."""


class DeclareInventory(Command, type="enterprise.declare_inventory", subject="enterprise_id"):
    """A stock movement: purchase or stocktake raise it, consumption or sale lower it."""

    enterprise_id: Id
    cas: Id
    movement: Movement
    quantity_kg: SignedKilograms
    reference: ShortText | None = None


class DeclareDemand(Command, type="enterprise.declare_demand", subject="enterprise_id"):
    """An open demand for a chemical; replaces the previous one for that chemical."""

    enterprise_id: Id
    cas: Id
    quantity_kg: SignedKilograms
    needed_by: Day | None = None


class RespondToTransfer(Command, type="enterprise.respond_to_transfer", subject="transfer_id"):
    """The recipient accepts or declines a proposed transfer."""

    transfer_id: Id
    enterprise_id: Id
    accepted: bool
    reason: ShortText | None = None


class ConfirmDelivery(Command, type="enterprise.confirm_delivery", subject="transfer_id"):
    """An accepted transfer was delivered (at most what was promised)."""

    transfer_id: Id
    delivered_kg: SignedKilograms


# -- facts on enterprise.events ---------------------------------------------------------


class EnterpriseRegistered(
    _Registration, Fact, type="enterprise.enterprise_registered", subject="enterprise_id"
):
    """The registration as stored."""


class DemandDeclared(Fact, type="enterprise.demand_declared", subject="enterprise_id"):
    """An open demand was recorded (an addition to the contract)."""

    enterprise_id: str
    cas: str
    quantity_kg: float
    needed_by: date | None = None


class InventoryChanged(Fact, type="enterprise.inventory_changed", subject="enterprise_id"):
    """The stock of one chemical changed, by a declared movement or a transfer."""

    enterprise_id: str
    cas: str
    stock_kg: float
    capacity_kg: float
    movement: StockChange
    quantity_kg: float


class OverCapacityDetected(Fact, type="enterprise.over_capacity_detected", subject="enterprise_id"):
    """Stock exceeds the permitted storage: one alert per excursion, for the liaison officer."""

    alert_id: str
    enterprise_id: str
    enterprise_name: str
    cas: str
    chemical_name: str
    chemical_name_en: str
    control_categories: list[ControlCategory]
    stock_kg: float
    capacity_kg: float
    surplus_kg: float
    liaison_officer: LiaisonOfficer
    address: str
    contact: Person


class AlertGrown(Fact, type="enterprise.alert_grown", subject="enterprise_id"):
    """The surplus of an open alert grew; only the extra is planned (an addition).

    Keyed by the enterprise, like over_capacity_detected and alert_resolved, so the facts
    of one alert are read in the order they happened."""

    alert_id: str
    enterprise_id: str
    cas: str
    surplus_kg: float
    previous_surplus_kg: float
    stock_kg: float
    capacity_kg: float


class RedistributionProposed(Fact, type="enterprise.redistribution_proposed", subject="alert_id"):
    """Transfers of (part of) a surplus to licensed enterprises nearby that need it."""

    alert_id: str
    source_enterprise_id: str
    cas: str
    surplus_kg: float
    transfers: list[ProposedTransfer]
    unallocated_kg: float


class TransferAccepted(Fact, type="enterprise.transfer_accepted", subject="transfer_id"):
    """The recipient accepted a proposed transfer (an addition)."""

    transfer_id: str
    alert_id: str
    to_enterprise_id: str


class TransferDeclined(Fact, type="enterprise.transfer_declined", subject="transfer_id"):
    """The recipient declined, or did not answer in time (`reason` is `expired`)."""

    transfer_id: str
    alert_id: str
    to_enterprise_id: str
    reason: str
    quantity_kg: float


class TransferWithdrawn(Fact, type="enterprise.transfer_withdrawn", subject="transfer_id"):
    """A proposal the alert no longer needs (its stock is back within the permit): the
    recipient's reservation is released and the transfer can no longer be answered."""

    transfer_id: str
    alert_id: str
    to_enterprise_id: str
    quantity_kg: float
    reason: Literal["alert_resolved"]


class TransferCompleted(Fact, type="enterprise.transfer_completed", subject="transfer_id"):
    """A transfer was delivered: stocks move at both ends, the recipient's demand drops."""

    transfer_id: str
    alert_id: str
    from_enterprise_id: str
    to_enterprise_id: str
    cas: str
    quantity_kg: float


class RedistributionEscalated(Fact, type="enterprise.redistribution_escalated", subject="alert_id"):
    """What could not be placed goes to the hazardous-chemicals brigade."""

    alert_id: str
    enterprise_id: str
    cas: str
    unallocated_kg: float
    reason: EscalationReason


class AlertResolved(Fact, type="enterprise.alert_resolved", subject="enterprise_id"):
    """Stock is back within the permitted storage (by delivery, consumption, sale or permit).

    Keyed by the enterprise, like the alert's other facts: read in order after them."""

    alert_id: str
    enterprise_id: str
    cas: str
    stock_kg: float
    capacity_kg: float


class ErasePerson(EraseOrder, type="enterprise.erase_person", subject="erasure_id"):
    """Erase a resident (PIPL): every record naming their phone or ID number is anonymised,
    and so is every copy of their name found there (`station erase`)."""


class PersonErased(PersonErasedFact, type="enterprise.person_erased", subject="erasure_id"):
    """A resident was erased from the enterprise service's database: how many records changed."""


# -- timers -----------------------------------------------------------------------------


class TransferResponseDue(Timer, type="enterprise.transfer_response_due", subject="transfer_id"):
    """The recipient's time to answer a proposed transfer is up."""

    transfer_id: str


# -- why a command is refused -----------------------------------------------------------

UNKNOWN_ENTERPRISE = Reason("unknown_enterprise", "the enterprise is not registered")
UNKNOWN_CAS = Reason("unknown_cas", "the CAS number is not in the chemical catalogue")
NEGATIVE_QUANTITY = Reason("negative_quantity", "a quantity below 0")
INSUFFICIENT_STOCK = Reason(
    "insufficient_stock", "a consumption or sale larger than the stock (never clamped)"
)
UNKNOWN_TRANSFER = Reason("unknown_transfer", "no such transfer was ever proposed")
NOT_THE_RECIPIENT = Reason("not_the_recipient", "the transfer goes to another enterprise")
TRANSFER_NOT_OPEN = Reason("transfer_not_open", "the transfer was already answered or expired")
TRANSFER_NOT_ACCEPTED = Reason(
    "transfer_not_accepted", "a delivery for a transfer that is not accepted"
)
MORE_THAN_PROMISED = Reason("more_than_promised", "a delivery larger than the transfer")
