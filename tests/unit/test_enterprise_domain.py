"""The enterprise rules as pure functions: stock movements, alerts and the matcher."""

import random

import pytest

from services.enterprise.catalogue import CATALOGUE, ControlCategory, chemical
from services.enterprise.domain import alert_change, stock_after
from services.enterprise.matcher import (
    Candidate,
    Location,
    Plan,
    distance_km,
    plan_redistribution,
    reservable_kg,
)
from shared import Rejected

BUTANONE = CATALOGUE["78-93-3"]
CAT3 = frozenset({"drug_precursor_3", "hazardous"})
LEATHER = Location(28.4500, 119.9200)  # a synthetic-leather company in Lishui


def _east(km: float) -> Location:
    """A point `km` east of the leather company (1° of longitude ≈ 97.8 km here)."""
    return Location(LEATHER.lat, LEATHER.lon + km / 97.83)


def _candidate(
    eid: str, km: float, *, room: float, need: float, licences: frozenset[str] = CAT3
) -> Candidate:
    return Candidate(eid, eid.upper(), _east(km), licences, room, need)


def _plan(
    candidates: list[Candidate], surplus: float = 10_000, excluded: frozenset[str] = frozenset()
) -> Plan:
    return plan_redistribution(
        source_enterprise_id="ent-leather",
        origin=LEATHER,
        categories=BUTANONE.categories,
        surplus_kg=surplus,
        candidates=candidates,
        max_distance_km=50,
        excluded=excluded,
    )


SEED = [
    _candidate("ent-unlicensed", 1.5, room=50_000, need=50_000, licences=frozenset({"hazardous"})),
    _candidate("ent-chem-a", 3, room=7_000, need=6_000),
    _candidate("ent-chem-b", 8, room=9_000, need=8_000),
    _candidate("ent-chem-far", 35, room=20_000, need=20_000),
]


def test_catalogue_has_the_nine_chemicals_with_their_control_categories() -> None:
    assert len(CATALOGUE) == 9
    assert BUTANONE.categories == {ControlCategory.DRUG_PRECURSOR_3, ControlCategory.HAZARDOUS}
    permanganate = CATALOGUE["7722-64-7"].categories
    assert {ControlCategory.DRUG_PRECURSOR_3, ControlCategory.EXPLOSIVE_PRECURSOR} <= permanganate
    assert ControlCategory.HIGHLY_TOXIC in CATALOGUE["143-33-9"].categories
    assert all(ControlCategory.HAZARDOUS in c.categories for c in CATALOGUE.values())
    assert chemical("00-00-0") is None


def test_seed_story_places_the_ten_tonnes_nearest_first_never_with_the_unlicensed() -> None:
    plan = _plan(SEED)

    assert [(t.to_enterprise_id, t.quantity_kg) for t in plan.transfers] == [
        ("ent-chem-a", 6_000),
        ("ent-chem-b", 4_000),
    ]
    assert plan.unallocated_kg == 0
    assert plan.reason is None


def test_a_decline_replans_without_the_decliner_to_the_next_nearest() -> None:
    plan = _plan(SEED, surplus=6_000, excluded=frozenset({"ent-chem-a"}))

    assert [(t.to_enterprise_id, t.quantity_kg) for t in plan.transfers] == [("ent-chem-b", 6_000)]


def test_what_cannot_be_placed_is_unallocated_with_a_reason() -> None:
    plan = _plan([SEED[0]])

    assert plan.transfers == ()
    assert plan.unallocated_kg == 10_000
    assert plan.reason == "no_eligible_recipient"


def test_partial_placement_reports_the_rest() -> None:
    plan = _plan([_candidate("ent-a", 3, room=2_500, need=9_000)])

    assert [t.quantity_kg for t in plan.transfers] == [2_500]
    assert plan.unallocated_kg == 7_500


@pytest.mark.parametrize(
    ("candidate", "why"),
    [
        (_candidate("ent-leather", 0.1, room=9e9, need=9e9), "the source itself"),
        (_candidate("ent-x", 50.5, room=9e9, need=9e9), "beyond 50 km"),
        (_candidate("ent-x", 2, room=0, need=9e9), "no room"),
        (_candidate("ent-x", 2, room=9e9, need=0), "no unmet demand"),
        (
            _candidate("ent-x", 2, room=9e9, need=9e9, licences=frozenset({"drug_precursor_3"})),
            "licence lacks one category",
        ),
    ],
)
def test_ineligible_recipients(candidate: Candidate, why: str) -> None:
    assert _plan([candidate]).transfers == (), why


def test_every_category_of_the_chemical_must_be_licensed() -> None:
    permanganate = CATALOGUE["7722-64-7"]
    only_cat3 = _candidate("ent-x", 2, room=100, need=100)
    both = _candidate(
        "ent-y",
        3,
        room=100,
        need=100,
        licences=frozenset({"drug_precursor_3", "explosive_precursor", "hazardous"}),
    )

    plan = plan_redistribution(
        source_enterprise_id="ent-leather",
        origin=LEATHER,
        categories=permanganate.categories,
        surplus_kg=150,
        candidates=[only_cat3, both],
        max_distance_km=50,
    )

    assert [t.to_enterprise_id for t in plan.transfers] == ["ent-y"]


def test_ties_in_distance_go_to_the_smallest_enterprise_id() -> None:
    plan = _plan(
        [_candidate("ent-b", 5, room=9e9, need=6_000), _candidate("ent-a", 5, room=9e9, need=6_000)]
    )

    assert [(t.to_enterprise_id, t.quantity_kg) for t in plan.transfers] == [
        ("ent-a", 6_000),
        ("ent-b", 4_000),
    ]


def test_each_gets_at_most_the_smaller_of_need_and_room() -> None:
    plan = _plan(
        [
            _candidate("ent-a", 1, room=1_000, need=3_000),
            _candidate("ent-b", 2, room=3_000, need=1_500),
        ],
        surplus=9_000,
    )

    assert [t.quantity_kg for t in plan.transfers] == [1_000, 1_500]
    assert plan.unallocated_kg == 6_500


def test_random_markets_keep_every_invariant() -> None:
    rng = random.Random(7)
    for _ in range(300):
        candidates = [
            _candidate(
                f"ent-{i:03}",
                rng.uniform(0, 80),
                room=rng.choice([0, rng.uniform(0, 5e3)]),
                need=rng.choice([0, rng.uniform(0, 5e3)]),
                licences=rng.choice([CAT3, frozenset({"hazardous"})]),
            )
            for i in range(rng.randint(0, 30))
        ]
        surplus = rng.uniform(0, 20_000)
        plan = plan_redistribution(
            source_enterprise_id="ent-000",
            origin=LEATHER,
            categories=BUTANONE.categories,
            surplus_kg=surplus,
            candidates=candidates,
            max_distance_km=50,
        )
        by_id = {c.enterprise_id: c for c in candidates}
        placed = sum(t.quantity_kg for t in plan.transfers)
        assert placed + plan.unallocated_kg == pytest.approx(surplus, abs=0.002)
        distances = [t.distance_km for t in plan.transfers]
        assert distances == sorted(distances)
        for t in plan.transfers:
            c = by_id[t.to_enterprise_id]
            assert t.to_enterprise_id != "ent-000"
            assert c.licences >= CAT3
            assert 0 < t.quantity_kg <= min(c.room_kg, c.unmet_demand_kg) + 0.001
            assert t.distance_km <= 50


def test_great_circle_distance() -> None:
    beijing, shanghai = Location(39.9042, 116.4074), Location(31.2304, 121.4737)

    assert distance_km(beijing, shanghai) == pytest.approx(1067, abs=5)
    assert distance_km(LEATHER, _east(10)) == pytest.approx(10, abs=0.1)


@pytest.mark.parametrize(
    ("stock", "movement", "quantity", "after"),
    [
        (0, "purchase", 30_000, 30_000),
        (30_000, "consumption", 10_000, 20_000),
        (30_000, "sale", 30_000, 0),
        (30_000, "stocktake", 12_345.678, 12_345.678),
    ],
)
def test_movements(stock: float, movement: str, quantity: float, after: float) -> None:
    assert stock_after(stock, movement, quantity) == after  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("movement", "quantity", "reason"),
    [
        ("consumption", 101, "insufficient_stock"),
        ("sale", 100.5, "insufficient_stock"),
        ("purchase", -1, "negative_quantity"),
    ],
)
def test_stock_never_goes_negative_and_is_never_clamped(
    movement: str, quantity: float, reason: str
) -> None:
    with pytest.raises(Rejected) as refused:
        stock_after(100, movement, quantity)  # type: ignore[arg-type]

    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("stock", "open_surplus", "change"),
    [
        (20_000, None, "none"),  # at the limit is within it
        (30_000, None, "open"),  # the seed: 30 t in a 20 t warehouse
        (30_000, 10_000, "none"),  # same excursion: no second alert
        (35_000, 10_000, "grow"),  # larger surplus: update and plan the extra
        (25_000, 10_000, "none"),  # smaller but still over
        (20_000, 10_000, "resolve"),  # back within the limit
        (0, 10_000, "resolve"),
    ],
)
def test_one_alert_per_excursion(stock: float, open_surplus: float | None, change: str) -> None:
    assert alert_change(stock_kg=stock, capacity_kg=20_000, open_surplus_kg=open_surplus) == change


def test_reservations_never_exceed_room_or_need() -> None:
    common = {"capacity_kg": 10_000, "stock_kg": 4_000}

    assert reservable_kg(wanted_kg=6_000, demand_kg=8_000, promised_kg=0, **common) == 6_000
    assert reservable_kg(wanted_kg=6_000, demand_kg=8_000, promised_kg=3_000, **common) == 3_000
    assert reservable_kg(wanted_kg=6_000, demand_kg=2_000, promised_kg=0, **common) == 2_000
    assert reservable_kg(wanted_kg=6_000, demand_kg=8_000, promised_kg=6_000, **common) == 0
