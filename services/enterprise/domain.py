"""Rules of the enterprise service: stock movements, over-capacity and the redistribution matcher.

Pure functions over plain values: no Kafka, MongoDB, clock or logging. Quantities are
kilograms, kept to the gram.
"""

import math
from collections.abc import Iterable, Set
from dataclasses import dataclass
from typing import Literal

Movement = Literal["purchase", "consumption", "sale", "stocktake"]
EARTH_RADIUS_KM = 6371.0088


class RuleError(ValueError):
    """A command breaks a rule; `reason` is the contract's machine-readable reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def kg(value: float) -> float:
    """Quantities are kept to the gram, so sums of transfers equal the surplus exactly."""
    return round(value, 3)


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlambda = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def stock_after(stock_kg: float, movement: Movement, quantity_kg: float) -> float:
    """The stock after a declared movement; stock never goes below zero (refused, not clamped)."""
    if quantity_kg < 0:
        raise RuleError("negative_quantity", f"quantity_kg must be ≥ 0, got {quantity_kg}")
    if movement == "stocktake":
        return kg(quantity_kg)
    if movement == "purchase":
        return kg(stock_kg + quantity_kg)
    if quantity_kg > stock_kg:
        raise RuleError(
            "insufficient_stock",
            f"{movement} of {quantity_kg} kg exceeds the stock of {stock_kg} kg",
        )
    return kg(stock_kg - quantity_kg)


def surplus_kg(stock_kg: float, capacity_kg: float) -> float:
    """How much stock exceeds the permitted storage (0 when within it)."""
    return kg(max(0.0, stock_kg - capacity_kg))


AlertChange = Literal["none", "open", "grow", "resolve"]


def alert_change(
    *, stock_kg: float, capacity_kg: float, open_surplus_kg: float | None
) -> AlertChange:
    """What a stock change does to the over-capacity alert of one enterprise and chemical.

    One alert per excursion: it opens when stock first exceeds capacity, grows (and the
    extra is planned) when the surplus rises above what it covers, and resolves when the
    stock is back within capacity, however it got there.
    """
    surplus = surplus_kg(stock_kg, capacity_kg)
    if open_surplus_kg is None:
        return "open" if surplus > 0 else "none"
    if surplus == 0:
        return "resolve"
    return "grow" if surplus > open_surplus_kg else "none"


def room_kg(*, capacity_kg: float, stock_kg: float, promised_kg: float) -> float:
    """Storage left: permitted storage - stock - quantity promised and not yet delivered."""
    return kg(max(0.0, capacity_kg - stock_kg - promised_kg))


def unmet_demand_kg(*, demand_kg: float, promised_kg: float) -> float:
    """Declared demand not yet covered by a promise."""
    return kg(max(0.0, demand_kg - promised_kg))


def reservable_kg(
    *, wanted_kg: float, capacity_kg: float, stock_kg: float, demand_kg: float, promised_kg: float
) -> float:
    """How much of `wanted_kg` a recipient can be promised now: never beyond room or need."""
    return kg(
        min(
            wanted_kg,
            room_kg(capacity_kg=capacity_kg, stock_kg=stock_kg, promised_kg=promised_kg),
            unmet_demand_kg(demand_kg=demand_kg, promised_kg=promised_kg),
        )
    )


@dataclass(frozen=True)
class Candidate:
    """Another enterprise as the matcher sees it, for one chemical."""

    enterprise_id: str
    name: str
    location: Location
    licences: frozenset[str]
    room_kg: float
    unmet_demand_kg: float


@dataclass(frozen=True)
class PlannedTransfer:
    to_enterprise_id: str
    to_name: str
    quantity_kg: float
    distance_km: float


@dataclass(frozen=True)
class Plan:
    transfers: tuple[PlannedTransfer, ...]
    unallocated_kg: float
    reason: Literal["no_eligible_recipient"] | None = None


def plan_redistribution(
    *,
    source_enterprise_id: str,
    origin: Location,
    categories: Set[str],
    surplus_kg: float,
    candidates: Iterable[Candidate],
    max_distance_km: float,
    excluded: Set[str] = frozenset(),
) -> Plan:
    """Place a surplus with licensed enterprises nearby that need it and have room.

    Eligible: not the source, not excluded (declined before), licensed for every control
    category of the chemical, with unmet demand and room, within `max_distance_km`.
    Nearest first (ties: smallest enterprise_id), each given at most min(unmet demand,
    room); never more than the surplus in all. What cannot be placed is `unallocated_kg`.
    """
    eligible = sorted(
        (
            (distance_km(origin, c.location), c)
            for c in candidates
            if c.enterprise_id != source_enterprise_id
            and c.enterprise_id not in excluded
            and categories <= c.licences
            and c.room_kg > 0
            and c.unmet_demand_kg > 0
        ),
        key=lambda pair: (pair[0], pair[1].enterprise_id),
    )
    remaining = kg(surplus_kg)
    transfers: list[PlannedTransfer] = []
    for distance, c in eligible:
        if remaining <= 0 or distance > max_distance_km:
            break
        quantity = kg(min(remaining, c.room_kg, c.unmet_demand_kg))
        transfers.append(PlannedTransfer(c.enterprise_id, c.name, quantity, round(distance, 2)))
        remaining = kg(remaining - quantity)
    if remaining > 0:
        return Plan(tuple(transfers), remaining, "no_eligible_recipient")
    return Plan(tuple(transfers), remaining)
