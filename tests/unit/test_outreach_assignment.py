"""The outreach service's pure functions: who fits a warning, in what order, to whom."""

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from services.outreach import roster as rules
from services.outreach.assignment import Load, allocate, distribute, spread
from services.outreach.campaigns import check_slice
from services.outreach.state import Counted, RegistryEntry, Reservation, RosterEntry, RosterState
from services.outreach.targeting import fits, plan_targets, priority, visit_id
from services.outreach.vocabulary import Target, is_block


def entry(
    hid: str,
    *,
    age: int = 40,
    business: str | None = None,
    alone: bool = False,
    victim: bool = False,
) -> RegistryEntry:
    return RegistryEntry(
        household_id=hid,
        business_type=business,
        oldest_age=age,
        lives_alone_elderly=alone,
        prior_fraud_victim=victim,
    )


CATERING = Target(business_types=["catering"])
ELDERLY = Target(min_age=60)


def test_a_household_fits_by_business_by_age_or_because_all_are_targeted() -> None:
    restaurant, gold, grandma = (
        entry("r", business="catering"),
        entry("g", business="gold_shop"),
        entry("o", age=88),
    )

    assert [fits(e, CATERING) for e in (restaurant, gold, grandma)] == [True, False, False]
    assert [fits(e, ELDERLY) for e in (restaurant, gold, grandma)] == [False, False, True]
    either = Target(business_types=["gold_shop"], min_age=80)
    assert [fits(e, either) for e in (restaurant, gold, grandma)] == [False, True, True]
    assert all(fits(e, Target(all_households=True)) for e in (restaurant, gold, grandma))
    assert fits(entry("sixty", age=60), ELDERLY), "at least the minimum age"


def test_priority_is_risk_elderly_alone_first_then_victims_business_and_age() -> None:
    target = Target(business_types=["catering"], min_age=60)
    ranked = sorted(
        [
            entry("plain", age=61),
            entry("restaurant", business="catering"),
            entry("victim", victim=True),
            entry("alone", age=70, alone=True),
            entry("very-old", age=92),
        ],
        key=lambda e: -priority(e, target),
    )

    assert [e.household_id for e in ranked] == [
        "alone",
        "victim",
        "restaurant",
        "very-old",
        "plain",
    ]
    assert priority(entry("nobody"), target) == 0


def test_targets_leave_out_recent_visits_and_come_highest_priority_first() -> None:
    registry = {
        "block-01": [entry("a", age=70), entry("b", age=85, alone=True), entry("c", age=30)],
        "block-02": [entry("d", age=66, victim=True)],
    }

    plan = plan_targets(registry, {"block-01": {"a"}}, ELDERLY)

    assert (plan.households_targeted, plan.visits_planned, plan.recently_visited) == (3, 2, 1)
    assert [(p.block, p.household_id) for p in plan.in_priority_order()] == [
        ("block-01", "b"),
        ("block-02", "d"),
    ]


def test_each_visit_goes_to_the_fewest_open_visits_below_the_maximum_ties_smallest_id() -> None:
    loads = [
        Load("v-b", frozenset({"block-01"}), open_visits=0, max_open_visits=5),
        Load("v-a", frozenset({"block-01"}), open_visits=0, max_open_visits=5),
        Load("v-c", frozenset({"block-01"}), open_visits=2, max_open_visits=3),
    ]

    one = allocate([("block-01", None)], loads)
    five = allocate([("block-01", None)] * 5, loads)
    seven = allocate([("block-01", None)] * 7, loads)

    assert one.quotas == {("block-01", "v-a"): 1}
    # a, b, a, b, then all three hold 2: the smallest id
    assert five.quotas == {("block-01", "v-a"): 3, ("block-01", "v-b"): 2}
    assert seven.open_visits == {"v-a": 3, "v-b": 3, "v-c": 3}


def test_nobody_passes_their_maximum_and_what_is_left_is_counted_per_block() -> None:
    loads = [Load("v1", frozenset({"block-01", "block-02"}), 0, 3)]

    blocks = ["block-02", "block-02", "block-01", "block-01", "block-03"]
    placed = allocate([(block, None) for block in blocks], loads)

    assert placed.quotas == {("block-02", "v1"): 2, ("block-01", "v1"): 1}
    assert placed.unplaced == {"block-01": 1, "block-03": 1}
    assert placed.open_visits == {"v1": 3}


def test_a_volunteer_serving_two_blocks_counts_visits_from_both() -> None:
    loads = [
        Load("shared", frozenset({"block-01", "block-02"}), 0, 10),
        Load("only-01", frozenset({"block-01"}), 0, 10),
        Load("only-02", frozenset({"block-02"}), 0, 10),
    ]

    placed = allocate([("block-01", None), ("block-02", None)] * 6, loads)

    assert placed.open_visits == {"shared": 4, "only-01": 4, "only-02": 4}


def test_waiting_visits_are_spread_by_the_same_rule() -> None:
    loads = [Load("v1", frozenset({"block-01"}), 4, 5), Load("v2", frozenset({"block-01"}), 0, 2)]

    placed = spread({"block-01": [None] * 4}, loads)

    assert placed.quotas == {("block-01", "v2"): 2, ("block-01", "v1"): 1}
    assert placed.unplaced == {"block-01": 1}


def test_a_visit_given_out_again_avoids_who_let_it_lapse_unless_nobody_else_has_room() -> None:
    loads = [Load("v1", frozenset({"block-01"}), 0, 5), Load("v2", frozenset({"block-01"}), 1, 5)]

    again = spread({"block-01": ["v1", None]}, loads)
    only = allocate([("block-01", "v2")], loads[1:])

    assert again.quotas == {("block-01", "v2"): 1, ("block-01", "v1"): 1}
    assert only.quotas == {("block-01", "v2"): 1}


def test_a_block_hands_visits_out_along_its_quotas_avoiding_who_it_should() -> None:
    visits = ["hi", "mid", "low", "extra"]
    avoid = {"hi": "v1"}

    given = distribute(visits, {"v1": 2, "v2": 1}, avoid.get)

    assert given == [("hi", "v2"), ("mid", "v1"), ("low", "v1")]
    alone = distribute(["hi"], {"v1": 1}, avoid.get)
    assert alone == [("hi", "v1")], "the avoided volunteer, when nobody else has room"


def test_a_county_wide_campaign_of_36000_visits_over_2000_volunteers() -> None:
    rng = random.Random(7)
    blocks = [f"block-{n:02}" for n in range(1, 19)]
    loads = [
        Load(
            f"vol-{n:04}",
            frozenset({blocks[n % 18], blocks[(n + 1) % 18]}),
            0,
            rng.randint(15, 25),
        )
        for n in range(2000)
    ]
    needs = [(blocks[rng.randrange(18)], None) for _ in range(36_000)]

    started = time.perf_counter()
    placed = allocate(needs, loads)
    elapsed = time.perf_counter() - started

    maximum = {load.volunteer_id: load.max_open_visits for load in loads}
    assert placed.placed() + sum(placed.unplaced.values()) == 36_000
    assert all(placed.open_visits[v] <= maximum[v] for v in maximum)
    per_volunteer = Counter[str]()
    for (_block, volunteer), count in placed.quotas.items():
        per_volunteer[volunteer] += count
    assert per_volunteer == Counter(placed.open_visits) - Counter()
    print(f"allocate 36,000 visits over 2,000 volunteers: {elapsed * 1000:.0f} ms")


def test_visit_ids_name_their_block_and_are_the_same_on_every_replay() -> None:
    first = visit_id("block-07", "campaign-1", "h-1")

    assert first == visit_id("block-07", "campaign-1", "h-1")
    assert first != visit_id("block-07", "campaign-2", "h-1")
    assert first.startswith("block-07/")


def test_blocks_are_block_01_to_block_18() -> None:
    assert [is_block(b, 18) for b in ("block-01", "block-18", "block-19", "block-1", "b-01")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_due_dates_are_checked_per_slice_of_time() -> None:
    slice_ = timedelta(minutes=15)
    at = datetime(2026, 6, 5, 9, 31, 7, tzinfo=UTC)

    assert check_slice(at, slice_) == datetime(2026, 6, 5, 9, 45, tzinfo=UTC)
    on_the_dot = datetime(2026, 6, 5, 9, 45, tzinfo=UTC)
    assert check_slice(on_the_dot, slice_) == on_the_dot


def test_the_roster_keeps_the_newest_count_of_a_blocks_waiting_visits_in_any_order() -> None:
    """Two flows tell the roster what waits in a block; the one that counted on the older
    revision may settle last, and must not bring back its count (a freed slot would then
    see no visit waiting and be left unused)."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    held = Reservation(key="k-new", at=at, quotas=[])
    older = Reservation(key="k-old", at=at, quotas=[])
    roster = RosterState(
        volunteers=[
            RosterEntry(
                volunteer_id="v1",
                name="Li",
                blocks=["block-01"],
                organisation="bank",
                phone="138",
                max_open_visits=3,
            )
        ],
        pending=[held, older],
    )
    newer = rules.settle(roster, key="k-new", unused=[], waiting={"block-01": Counted(5, 7)})
    assert newer is not None
    late = rules.settle(newer.state, key="k-old", unused=[], waiting={"block-01": Counted(0, 3)})
    assert late is not None
    assert late.state.backlog == {"block-01": 5}
    assert rules.blocks_with_room(late.state) == ["block-01"]
    # in the order they were counted, the newer count wins all the same
    first = rules.settle(roster, key="k-old", unused=[], waiting={"block-01": Counted(0, 3)})
    assert first is not None
    then = rules.settle(first.state, key="k-new", unused=[], waiting={"block-01": Counted(5, 7)})
    assert then is not None
    assert then.state.backlog == {"block-01": 5}
    assert then.state.pending == []
