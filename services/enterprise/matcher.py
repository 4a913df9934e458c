"""The redistribution matcher: where a surplus can go, nearest first, never beyond room or need.

Pure functions over plain values: no Kafka, MongoDB, clock or logging. Quantities are
kilograms, kept to the gram.
"""

import math
from collections.abc import Iterable, Set
from dataclasses import dataclass
from typing import Literal

EARTH_RADIUS_KM = 6371.0088


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
class Placement:
    to_enterprise_id: str
    to_name: str
    quantity_kg: float
    distance_km: float


@dataclass(frozen=True)
class Plan:
    transfers: tuple[Placement, ...]
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
    max_transfers: int | None = None,
) -> Plan:
    """Place a surplus with licensed enterprises nearby that need it and have room.

    Eligible: not the source, not excluded (declined before), licensed for every control
    category of the chemical, with unmet demand and room, within `max_distance_km`.
    Nearest first (ties: smallest enterprise_id), each given at most min(unmet demand,
    room); never more than the surplus in all, to at most `max_transfers` recipients.
    What cannot be placed is `unallocated_kg`.
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
    transfers: list[Placement] = []
    for distance, c in eligible:
        if remaining <= 0 or distance > max_distance_km:
            break
        if max_transfers is not None and len(transfers) >= max_transfers:
            break
        quantity = kg(min(remaining, c.room_kg, c.unmet_demand_kg))
        transfers.append(Placement(c.enterprise_id, c.name, quantity, round(distance, 2)))
        remaining = kg(remaining - quantity)
    if remaining > 0:
        return Plan(tuple(transfers), remaining, "no_eligible_recipient")
    return Plan(tuple(transfers), remaining)
