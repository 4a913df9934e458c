"""The assignment ranking, a pure function: specialty and room required; urgent cases to
the station's full-time mediator first; then the dispute's block; then the lowest load;
then the smallest mediator_id."""

import random
from datetime import UTC, datetime

from services.mediation import messages as m
from services.mediation.assignment import Choice, candidates_in_order, rank_mediators
from services.mediation.state import CaseState, MediatorState


def case(
    category: m.Category = "family", *, block: str | None = "block-03", urgent: bool = False
) -> CaseState:
    return CaseState(
        case_id="case-1",
        dispute_id="d-1",
        category=category,
        source="walk_in",
        block=block,
        urgency="high" if urgent else "normal",
        parties=[],
        description="",
        opened_at=datetime(2026, 6, 3, tzinfo=UTC),
    )


def med(
    mid: str,
    *,
    kind: m.MediatorKind = "community",
    specialties: tuple[m.Category, ...] = ("family",),
    blocks: tuple[str, ...] = (),
    load: int = 0,
    max_active_cases: int = 5,
) -> MediatorState:
    return MediatorState(
        mediator_id=mid,
        name=mid,
        kind=kind,
        specialties=list(specialties),
        blocks=list(blocks),
        phone="1",
        max_active_cases=max_active_cases,
        active_cases=[f"other-{n}" for n in range(load)],
    )


def ids(choices: list[Choice]) -> list[str]:
    return [c.mediator.mediator_id for c in choices]


def test_specialty_and_room_are_required() -> None:
    mediators = [
        med("wrong-specialty", specialties=("traffic",)),
        med("full", load=5),
        med("no-room-at-all", max_active_cases=0),
        med("fits", load=4),
    ]

    assert ids(rank_mediators(case(), mediators)) == ["fits"]
    assert rank_mediators(case("property"), mediators) == []


def test_urgent_cases_prefer_the_station_full_time_mediator_over_block_and_load() -> None:
    mediators = [
        med("community-near", blocks=("block-03",)),
        med("full-time", kind="station_full_time", load=3),
    ]

    urgent = rank_mediators(case(urgent=True), mediators)
    normal = rank_mediators(case(), mediators)

    assert ids(urgent) == ["full-time", "community-near"]
    assert urgent[0].reason == "urgent_station_full_time"
    assert ids(normal) == ["community-near", "full-time"]
    assert normal[0].reason == "serves_block"


def test_then_the_block_then_the_lowest_load_then_the_smallest_id() -> None:
    mediators = [
        med("b-far-idle"),
        med("a-far-idle"),
        med("near-busy", blocks=("block-03",), load=4),
        med("far-busy", load=2),
    ]

    ranked = rank_mediators(case(), mediators)

    assert ids(ranked) == ["near-busy", "a-far-idle", "b-far-idle", "far-busy"]
    assert [c.reason for c in ranked] == ["serves_block", *["lowest_load"] * 3]
    assert ids(rank_mediators(case(block=None), mediators)) == [
        "a-far-idle",
        "b-far-idle",
        "far-busy",
        "near-busy",
    ]


def test_a_mediator_already_holding_the_case_is_taken_even_when_full() -> None:
    holder = med("holder", load=4, max_active_cases=5).model_copy(
        update={"active_cases": [*[f"other-{n}" for n in range(4)], "case-1"]}
    )

    assert ids(candidates_in_order(case(), [med("idle"), holder])) == ["holder"]
    assert ids(candidates_in_order(case(), [med("idle"), med("busy", load=1)])) == [
        "idle",
        "busy",
    ]


def test_the_first_choice_always_beats_every_other_eligible_mediator() -> None:
    rng = random.Random(7)
    kinds: list[m.MediatorKind] = ["station_full_time", "community", "village", "lawyer"]
    for _ in range(300):
        mediators = [
            med(
                f"m{n:02}",
                kind=rng.choice(kinds),
                specialties=tuple(rng.sample(m.CATEGORIES, 2)),  # type: ignore[arg-type]
                blocks=tuple(rng.sample(["block-01", "block-02", "block-03"], rng.randint(0, 2))),
                load=rng.randint(0, 3),
                max_active_cases=rng.randint(0, 3),
            )
            for n in range(12)
        ]
        target = case(rng.choice(m.CATEGORIES), urgent=rng.random() < 0.3)  # type: ignore[arg-type]

        ranked = rank_mediators(target, mediators)

        eligible = [x for x in mediators if target.category in x.specialties and x.has_room]
        assert len(ranked) == len(eligible)
        if not ranked:
            continue
        best = ranked[0].mediator
        assert all(_key(target, best) <= _key(target, x) for x in eligible)


def _key(target: CaseState, x: MediatorState) -> tuple[bool, bool, int, str]:
    """The contract's order, written out again independently of the implementation."""
    return (
        target.urgency == "high" and x.kind != "station_full_time",
        target.block not in x.blocks,
        x.load,
        x.mediator_id,
    )
