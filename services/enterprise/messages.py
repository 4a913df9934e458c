"""The enterprise service's commands and the facts it reacts to (contract.md)."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.enterprise.catalogue import ControlCategory
from services.enterprise.domain import Movement


class _Message(BaseModel):
    # tolerant reader: fields the contract may add later are ignored
    model_config = ConfigDict(extra="ignore", frozen=True)


class GeoPoint(_Message):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Person(_Message):
    name: str = Field(min_length=1)
    phone: str = Field(min_length=1)


class LiaisonOfficer(Person):
    officer_id: str = Field(min_length=1)


class PermittedStorage(_Message):
    cas: str = Field(min_length=1)
    capacity_kg: float = Field(ge=0)


class RegisterEnterprise(_Message):
    enterprise_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    location: GeoPoint
    licences: list[ControlCategory]
    liaison_officer: LiaisonOfficer
    contact: Person
    storage: list[PermittedStorage] = []


class DeclareInventory(_Message):
    enterprise_id: str = Field(min_length=1)
    cas: str = Field(min_length=1)
    movement: Movement
    # the sign is checked by the rules, so a negative quantity gets its own reason
    quantity_kg: float
    reference: str | None = None


class DeclareDemand(_Message):
    enterprise_id: str = Field(min_length=1)
    cas: str = Field(min_length=1)
    quantity_kg: float
    needed_by: date | None = None


class RespondToTransfer(_Message):
    transfer_id: str = Field(min_length=1)
    enterprise_id: str = Field(min_length=1)
    accepted: bool
    reason: str | None = None


class ConfirmDelivery(_Message):
    transfer_id: str = Field(min_length=1)
    delivered_kg: float


class AlertRaised(_Message):
    """over_capacity_detected and alert_grown, as the planner reads them."""

    alert_id: str
    enterprise_id: str
    cas: str
    surplus_kg: float


class AlertResolved(_Message):
    alert_id: str
    enterprise_id: str
    cas: str


class TransferDeclined(_Message):
    transfer_id: str
    alert_id: str
    to_enterprise_id: str
    reason: str


class TransferCompleted(_Message):
    transfer_id: str
    alert_id: str
    from_enterprise_id: str
    to_enterprise_id: str
    cas: str
    quantity_kg: float


class TransferResponseDue(_Message):
    transfer_id: str


EscalationReason = Literal["no_eligible_recipient", "declined", "expired"]
