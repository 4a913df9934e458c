"""What the enterprise service stores: enterprises, alerts and transfers, as typed state."""

from typing import Literal

from pydantic import Field

from services.enterprise.catalogue import ControlCategory
from services.enterprise.messages import (
    EscalationReason,
    GeoPoint,
    LiaisonOfficer,
    Person,
    ProposedTransfer,
)
from shared import State

# An enterprise and an alert are one document each, grown by other enterprises' alerts and
# by re-plans: at most this many open promises to one recipient (a full one gets no more
# until deliveries end some) and transfers in one alert (the rest is escalated). At these
# caps and the command bounds both stay far below MongoDB's 16 MiB
# (tests/unit/test_document_bounds.py).
MAX_OPEN_PROMISES = 1_000
MAX_TRANSFERS_PER_ALERT = 1_000


class Promise(State):
    """Quantity promised to a recipient by one transfer and not yet delivered."""

    cas: str
    quantity_kg: float
    alert_id: str
    from_enterprise_id: str


class OpenAlert(State):
    alert_id: str
    surplus_kg: float


class EnterpriseState(State):
    enterprise_id: str
    name: str
    address: str
    location: GeoPoint
    licences: list[ControlCategory]
    liaison_officer: LiaisonOfficer
    contact: Person
    # permitted storage, stock and open demand per CAS number, in kg
    storage: dict[str, float] = Field(default_factory=dict)
    stock: dict[str, float] = Field(default_factory=dict)
    demand: dict[str, float] = Field(default_factory=dict)
    promises: dict[str, Promise] = Field(default_factory=dict)
    open_alerts: dict[str, OpenAlert] = Field(default_factory=dict)

    @property
    def takes_promises(self) -> bool:
        return len(self.promises) < MAX_OPEN_PROMISES

    def promised_kg(self, cas: str) -> float:
        """What is promised to this enterprise for `cas` and not yet delivered."""
        return float(sum(p.quantity_kg for p in self.promises.values() if p.cas == cas))


TransferStatus = Literal["proposed", "accepted", "declined", "expired", "completed", "withdrawn"]
OPEN: frozenset[TransferStatus] = frozenset({"proposed", "accepted"})


class PlannedTransfer(ProposedTransfer):
    """A transfer as an alert keeps it: what was proposed and where it stands."""

    status: TransferStatus = "proposed"
    delivered_kg: float | None = None


class PendingPlan(State):
    """A plan under way for one cause: how much it places, why, and to whom it intends to."""

    quantity_kg: float
    reason: EscalationReason
    intents: list[ProposedTransfer]


class AlertState(State):
    alert_id: str
    enterprise_id: str
    cas: str
    status: Literal["open", "resolved"] = "open"
    # the largest surplus of this excursion
    surplus_kg: float = 0.0
    excluded: list[str] = Field(default_factory=list)
    pending: dict[str, PendingPlan] = Field(default_factory=dict)
    transfers: dict[str, PlannedTransfer] = Field(default_factory=dict)
    redistributed_kg: float = 0.0
    escalated_kg: float = 0.0
    escalations: int = 0

    @property
    def transfers_left(self) -> int:
        """How many more transfers this alert may plan (pending intents count)."""
        planned = len(self.transfers) + sum(len(p.intents) for p in self.pending.values())
        return max(0, MAX_TRANSFERS_PER_ALERT - planned)

    def open_kg(self) -> float:
        """Promised by transfers still proposed or accepted."""
        return sum(t.quantity_kg for t in self.transfers.values() if t.status in OPEN)

    def unplanned_kg(self) -> float:
        """What no plan covers yet: surplus - open promises - delivered - escalated - in
        flight. Zero once every cause is planned; a decline or a short delivery raises it."""
        covered = (
            self.open_kg()
            + self.redistributed_kg
            + self.escalated_kg
            + sum(p.quantity_kg for p in self.pending.values())
        )
        return max(0.0, round(self.surplus_kg - covered, 3))


class TransferState(State):
    transfer_id: str
    alert_id: str
    from_enterprise_id: str
    to_enterprise_id: str
    to_name: str
    cas: str
    quantity_kg: float
    distance_km: float
    status: TransferStatus = "proposed"
    delivered_kg: float | None = None
