"""The demo's stage: commands are checked before anything is sent and carry the story's
correlation id; a refused command or a story past its timeout fails the story."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from rich.console import Console

from cli.demo import _play
from cli.events import Event
from cli.stories import STORIES
from cli.stories.base import Story
from cli.stories.stage import Stage, StoryFailed, Watch
from shared._kit.envelope import CloudEvent


class Broker(Watch):
    """No Kafka: what is sent is kept, and the 'service' answers each command at once."""

    def __init__(self, answer: str) -> None:
        super().__init__("unused:1")
        self.sent: list[CloudEvent] = []
        self.answer = answer

    async def send(self, commands: Sequence[CloudEvent]) -> None:
        self.sent.extend(commands)
        async with self._changed:
            for n, c in enumerate(commands):
                self.events.append(
                    Event(
                        topic="enterprise.events",
                        partition=0,
                        offset=len(self.events) + n,
                        timestamp=datetime.now(UTC),
                        id=f"answer-{c.id}",
                        type=self.answer,
                        source="/services/enterprise",
                        correlationid=c.correlationid,
                        causationid=c.id,
                        data={"command_type": c.type, "reason": "unknown_cas", "errors": ["x"]},
                    )
                )
            self._changed.notify_all()


def stage(watch: Watch) -> Stage:
    return Stage(watch, run="abc123", story="enterprise", lang="en", say=print, step=lambda: None)


DEMAND = {"enterprise_id": "ent-a", "cas": "78-93-3", "quantity_kg": 10}


def test_a_command_the_service_would_refuse_as_invalid_is_never_built() -> None:
    with pytest.raises(StoryFailed, match=r"enterprise\.declare_demand is not valid"):
        stage(Broker("x")).command("enterprise.declare_demand", {"enterprise_id": "ent-a"})


def test_commands_carry_the_story_and_the_first_one_is_its_root() -> None:
    s = stage(Broker("x"))
    setup = s.command("enterprise.declare_demand", DEMAND, setup=True)
    first = s.command("enterprise.declare_demand", DEMAND)
    second = s.command("enterprise.declare_demand", DEMAND)
    assert setup.correlationid == "abc123-enterprise-setup"
    assert first.id == first.correlationid == "abc123-enterprise"
    assert second.correlationid == first.id
    assert len({setup.id, first.id, second.id}) == 3
    assert first.subject == "ent-a"
    assert first.source == "/intake/demo"


async def test_a_refused_command_fails_the_story_with_the_reason() -> None:
    broker = Broker("enterprise.command_rejected")

    async def play(s: Stage) -> None:
        await s.send(s.command("enterprise.declare_demand", DEMAND))
        await s.expect("enterprise.demand_declared")

    outcome = await _play(
        broker,
        Story("enterprise", "demo.enterprise.title", 1, play),
        run="r1",
        lang="en",
        console=Console(),
        timeout_s=5,
    )
    assert not outcome.ok
    assert "unknown_cas" in outcome.error


async def test_a_refused_registration_fails_the_story_too() -> None:
    broker = Broker("enterprise.command_rejected")

    async def play(s: Stage) -> None:
        await s.setup(s.command("enterprise.declare_demand", DEMAND, setup=True))

    outcome = await _play(
        broker,
        Story("enterprise", "demo.enterprise.title", 1, play),
        run="r1",
        lang="en",
        console=Console(),
        timeout_s=5,
    )
    assert not outcome.ok
    assert "declare_demand refused" in outcome.error


async def test_a_story_that_does_not_finish_in_time_fails() -> None:
    broker = Broker("enterprise.demand_declared")

    async def play(s: Stage) -> None:
        await s.send(s.command("enterprise.declare_demand", DEMAND))
        await s.expect("enterprise.alert_resolved")  # never comes

    started = asyncio.get_running_loop().time()
    outcome = await _play(
        broker,
        Story("enterprise", "demo.enterprise.title", 1, play),
        run="r1",
        lang="en",
        console=Console(),
        timeout_s=0.3,
    )
    assert not outcome.ok
    assert "not complete within" in outcome.error
    assert asyncio.get_running_loop().time() - started < 5


async def test_an_answered_story_completes() -> None:
    broker = Broker("enterprise.demand_declared")

    async def play(s: Stage) -> None:
        await s.setup(s.command("enterprise.declare_demand", DEMAND, setup=True))
        await s.send(s.command("enterprise.declare_demand", DEMAND))
        [declared] = await s.expect("enterprise.demand_declared")
        assert declared.causationid == s.correlation
        s.say("demo.enterprise.registered")

    outcome = await _play(
        broker,
        Story("enterprise", "demo.enterprise.title", 1, play),
        run="r1",
        lang="en",
        console=Console(),
        timeout_s=5,
    )
    assert outcome.ok, outcome.error
    assert [c.correlationid for c in broker.sent] == [
        "r1-enterprise-setup",
        "r1-enterprise",
    ]


def test_the_five_seed_stories_in_the_handbook_order() -> None:
    assert [s.key for s in STORIES] == ["enterprise", "mediation", "fraud", "wus", "idcard"]
    # a log line shows a correlation id's first 8 characters: the stories must differ there
    assert len({f"3fa9c1-{s.key}"[:8] for s in STORIES}) == len(STORIES)
