"""`station story CORRELATION_ID`: one story's whole chain, across services, as a tree.

The commands (intake topics) are the roots; every event hangs under the event or command
named by its `causationid`; each node shows how long that step took after its cause.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import typer
from rich.console import RenderableType

from cli.events import Event, read_all
from cli.i18n import Lang
from cli.story_view import story_tree
from cli.topics import events_topics, intake_topics


def story_topics() -> tuple[str, ...]:
    """The intake topics (the commands) and the events topics, as configured."""
    return (*intake_topics(), *events_topics())


@dataclass
class StoryNode:
    """One event of a story, the time it took after its cause, and what it caused.

    The node `build_story` returns is the story itself: its `event` is None and its
    children are the story's roots (usually the commands that started it)."""

    event: Event | None
    elapsed: timedelta | None = None  # since the parent event; None for a root
    children: list[StoryNode] = field(default_factory=list)
    correlation_id: str = ""

    def walk(self) -> Iterator[StoryNode]:
        """This node and every descendant, depth first, in time order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def events(self) -> list[Event]:
        return [n.event for n in self.walk() if n.event is not None]


def build_story(events: Sequence[Event], correlation_id: str) -> StoryNode:
    """The story of `correlation_id`: roots are its events whose cause is not in the set
    (the commands), children hang by `causationid`, siblings in broker-time order. The
    same event read twice (a redelivery, a second replica) appears once."""
    mine = sorted(
        (e for e in events if e.correlation == correlation_id and not e.problem),
        key=lambda e: (e.timestamp, e.topic, e.partition, e.offset),
    )
    nodes: dict[str, StoryNode] = {}
    for e in mine:
        nodes.setdefault(e.id, StoryNode(e))
    story = StoryNode(None, correlation_id=correlation_id)
    for node in nodes.values():
        assert node.event is not None
        parent = nodes.get(node.event.causationid or "")
        if parent is None or parent is node or _is_descendant(parent, node, nodes):
            story.children.append(node)
        else:
            assert parent.event is not None
            node.elapsed = node.event.timestamp - parent.event.timestamp
            parent.children.append(node)
    return story


def _is_descendant(candidate: StoryNode, node: StoryNode, nodes: dict[str, StoryNode]) -> bool:
    """True when `candidate` is caused (transitively) by `node`: a cycle, never a tree."""
    seen: set[str] = set()
    current: StoryNode | None = candidate
    while current is not None and current.event is not None:
        if current is node:
            return True
        if current.event.id in seen:
            return True
        seen.add(current.event.id)
        current = nodes.get(current.event.causationid or "")
    return False


def render_story(story: StoryNode | Sequence[StoryNode], lang: Lang = "zh") -> RenderableType:
    """A rich Tree: each step's time after its cause, service, type, subject, key fact."""
    if isinstance(story, StoryNode):
        return story_tree(story, lang)
    roots = list(story)
    whole = StoryNode(None, children=roots, correlation_id=_correlation_of(roots))
    return story_tree(whole, lang)


def _correlation_of(roots: Sequence[StoryNode]) -> str:
    for root in roots:
        if root.event is not None:
            return root.event.correlation
    return ""


async def story_events(bootstrap: str, correlation_id: str) -> list[Event]:
    """Every command and event of one story, from the intake and events topics."""
    found = await read_all(bootstrap, story_topics())
    return [e for e in found if e.correlation == correlation_id]


def matching_correlations(events: Sequence[Event], prefix: str) -> list[str]:
    """The stories whose correlation id is `prefix` or starts with it (`3f2a1c9b`, as the
    log lines show it)."""
    if any(e.correlation == prefix for e in events):
        return [prefix]
    return sorted({e.correlation for e in events if e.correlation.startswith(prefix)})


def register(app: typer.Typer) -> None:
    from cli.story_command import register as register_command

    register_command(app)
