"""The story tree: roots, causation, time per step, duplicates, cycles, rendering."""

from datetime import timedelta

from rich.console import Console

from cli.story import build_story, matching_correlations, render_story
from tests.unit.cli_events import ev


def _seed_story() -> list:  # type: ignore[type-arg]
    return [
        ev(
            "enterprise.declare_inventory",
            "cmd",
            command=True,
            subject="ent-1",
            enterprise_id="ent-1",
            cas="78-93-3",
            movement="purchase",
            quantity_kg=10_000,
        ),
        ev(
            "enterprise.inventory_changed",
            "inv",
            cause="cmd",
            at_s=0.2,
            subject="ent-1",
            cas="78-93-3",
            stock_kg=30_000,
            capacity_kg=20_000,
        ),
        ev(
            "enterprise.over_capacity_detected",
            "alert",
            cause="cmd",
            at_s=0.3,
            subject="ent-1",
            surplus_kg=10_000,
            stock_kg=30_000,
            chemical_name="丁酮",
            chemical_name_en="butanone",
        ),
        ev(
            "enterprise.redistribution_proposed",
            "plan",
            cause="alert",
            at_s=0.5,
            transfers=[{"quantity_kg": 6000, "to_name": "Dye works"}],
            unallocated_kg=4000,
        ),
        ev(
            "notifier.notification_sent",
            "sms",
            cause="alert",
            at_s=3.5,
            template="over_capacity_officer",
            channel="sms",
            recipient={"kind": "officer", "id": "off-1"},
        ),
        ev("enterprise.inventory_changed", "other", corr="story-2", cause="x"),
    ]


def test_commands_are_roots_and_effects_hang_by_causation() -> None:
    story = build_story(_seed_story(), "story-1")
    [root] = story.children
    assert root.event is not None
    assert root.event.id == "cmd"
    assert root.elapsed is None
    assert [c.event.id for c in root.children if c.event] == ["inv", "alert"]
    alert = root.children[1]
    assert [c.event.id for c in alert.children if c.event] == ["plan", "sms"]
    assert alert.elapsed == timedelta(seconds=0.3)
    assert alert.children[1].elapsed == timedelta(seconds=3.2)
    assert [e.id for e in story.events()] == ["cmd", "inv", "alert", "plan", "sms"]


def test_an_event_read_twice_appears_once_and_other_stories_are_left_out() -> None:
    events = _seed_story()
    story = build_story([*events, events[2]], "story-1")
    assert len(story.events()) == 5
    assert build_story(events, "story-2").events()[0].id == "other"


def test_an_effect_whose_cause_is_not_on_the_topics_is_a_root() -> None:
    events = [ev("mediation.session_overdue", "late", cause="timer-1", subject="case-1")]
    story = build_story(events, "story-1")
    assert [n.event.id for n in story.children if n.event] == ["late"]


def test_a_causation_cycle_never_loops() -> None:
    events = [
        ev("outreach.visit_assigned", "a", cause="b"),
        ev("outreach.visit_completed", "b", cause="a", at_s=1),
    ]
    story = build_story(events, "story-1")
    assert sorted(e.id for e in story.events()) == ["a", "b"]


def test_the_tree_shows_each_step_with_its_time_and_key_fact_in_both_languages() -> None:
    story = build_story(_seed_story(), "story-1")
    zh = _text(render_story(story, "zh"))
    assert "事件链 story-1" in zh
    assert "5 步" in zh
    assert "超量预警" in zh
    assert "超出 10,000 kg 丁酮" in zh
    assert "+0.30 s" in zh
    assert "+3.20 s" in zh
    en = _text(render_story(story.children, "en"))
    assert "over capacity detected" in en
    assert "surplus 10,000 kg butanone" in en
    assert "6,000 kg → Dye works; unallocated 4,000 kg" in en
    assert "over-capacity alert → officer:off-1 (SMS)".lower() in en.lower()
    # nesting: the notification is drawn deeper than the alert
    lines = en.splitlines()
    alert = next(i for i, line in enumerate(lines) if "over capacity detected" in line)
    sms = next(i for i, line in enumerate(lines) if "officer:off-1" in line)
    assert lines[sms].index("notifier") > lines[alert].index("enterprise")


def test_a_short_correlation_id_finds_its_story() -> None:
    events = _seed_story()
    assert matching_correlations(events, "story-1") == ["story-1"]
    assert matching_correlations(events, "story") == ["story-1", "story-2"]
    assert matching_correlations(events, "nope") == []


def _text(renderable: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()
