"""What a demo story plays on: the live topics (`Watch`) and one story's view of them (`Stage`).

A story sends commands and waits for the facts they cause, reacting to what the services
decided (the transfer ids, the case id, the assigned volunteer), so it runs as well on a
fresh stack as on one that kept the data of earlier runs. Every command is checked
against its service's model before it is sent.
"""

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from cli.events import EVENTS_TOPICS, INTAKE_TOPICS, Event, parse
from cli.i18n import Lang, t
from cli.options import kafka_options
from cli.stories.contract import command_model
from shared._kit.envelope import CloudEvent, kafka_headers

SOURCE = "/intake/demo"
Where = Callable[[dict[str, Any]], bool]


class StoryFailed(Exception):  # noqa: N818 - a story's end, like Rejected
    """A story cannot go on: a command was refused, or it is not valid at all."""


class Watch:
    """Every record of the intake and events topics from the moment it is entered, and a
    producer for the demo's commands."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.events: list[Event] = []
        self.unreadable = 0  # records skipped because they could not be read
        self._ids: set[tuple[str, str]] = set()
        self._changed = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Watch":
        consumer = AIOKafkaConsumer(
            **kafka_options(self.bootstrap), group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        self._consumer = consumer
        parts: list[TopicPartition] = []
        for topic in (*INTAKE_TOPICS, *EVENTS_TOPICS):
            ids = await _partitions(consumer, topic)
            parts.extend(TopicPartition(topic, p) for p in sorted(ids))
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end now, before anything is sent
            await consumer.position(tp)
        self._producer = AIOKafkaProducer(
            **kafka_options(self.bootstrap), acks="all", enable_idempotence=True
        )
        await self._producer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._producer is not None:
            await self._producer.stop()
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            fresh = []
            for records in batch.values():
                for r in records:
                    event = parse(r.topic, r.partition, r.offset, r.timestamp, r.value)
                    self.unreadable += event.problem is not None
                    identity = (event.source, event.id)
                    if event.problem is None and identity not in self._ids:
                        self._ids.add(identity)  # a replica or a redelivery says it again
                        fresh.append(event)
            if fresh:
                async with self._changed:
                    self.events.extend(fresh)
                    self._changed.notify_all()

    async def wait(self, ready: Callable[[], bool]) -> None:
        """Until `ready()` holds (checked after each batch of new events)."""
        async with self._changed:
            await self._changed.wait_for(ready)

    async def send(self, commands: Sequence[CloudEvent]) -> None:
        """Commands on their services' intake topics, in order, acknowledged by all."""
        assert self._producer is not None
        futures = [
            await self._producer.send(
                f"{c.type.split('.', 1)[0]}.intake",
                c.to_bytes(),
                key=c.key,
                headers=kafka_headers(),
            )
            for c in commands
        ]
        await asyncio.gather(*futures)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    ids = consumer.partitions_for_topic(topic)
    if not ids:
        await consumer._client.force_metadata_update()
        ids = consumer.partitions_for_topic(topic)
    if not ids:
        raise StoryFailed(f"topic {topic} does not exist: is the stack up?")
    return set(ids)


class Stage:
    """One story's view: its commands (all carrying its correlation id) and its events."""

    def __init__(
        self,
        watch: Watch,
        *,
        run: str,
        story: str,
        lang: Lang,
        say: Callable[[str], None],
        step: Callable[[], None],
    ) -> None:
        self.watch, self.run, self.lang = watch, run, lang
        self.correlation = f"{run}-{story}"
        self.setup_correlation = f"{self.correlation}-setup"
        self._say, self._step = say, step
        self._sent = 0
        self._rooted = False

    def id(self, name: str) -> str:
        """An id of this run (`ent-leather-3fa9c1`): a later run never meets this one's."""
        return f"{name}-{self.run}"

    def say(self, key: str, **fields: object) -> None:
        """One line of narration, then the progress bar moves on a step."""
        self._say(t(key, self.lang, **fields))
        self._step()

    def command(
        self, command_type: str, data: dict[str, Any], *, setup: bool = False
    ) -> CloudEvent:
        """A command of this story, checked against its service's model."""
        model = command_model(command_type)
        try:
            model.model_validate(data)
        except ValidationError as exc:
            raise StoryFailed(f"{command_type} is not valid: {exc}") from None
        subject = str(data[model.subject_field]) if model.subject_field else None
        correlation = self.setup_correlation if setup else self.correlation
        self._sent += 1
        # the story's first command is its root: its id is the story's correlation id
        root = not setup and not self._rooted
        self._rooted = self._rooted or root
        return CloudEvent(
            id=correlation if root else f"{self.correlation}-{self._sent:02d}",
            source=SOURCE,
            type=command_type,
            subject=subject,
            time=datetime.now(UTC),
            correlationid=correlation,
            data=data,
        )

    async def send(self, *commands: CloudEvent) -> None:
        await self.watch.send(commands)

    async def setup(self, *commands: CloudEvent) -> None:
        """Send registrations and wait until each one was acted on (a fact it caused)."""
        await self.send(*commands)
        ids = {c.id for c in commands}
        await self._until(lambda: ids <= {e.causationid for e in self._answers(ids)}, ids)

    def events(self, *, setup: bool = False) -> list[Event]:
        wanted = self.setup_correlation if setup else self.correlation
        return [e for e in self.watch.events if e.correlationid == wanted]

    async def expect(
        self, event_type: str, *, count: int = 1, where: Where | None = None
    ) -> list[Event]:
        """The first `count` events of a type in this story (whose data fit `where`)."""

        def found() -> list[Event]:
            return [
                e
                for e in self.events()
                if e.type == event_type and (where is None or where(e.data))
            ]

        await self._until(lambda: len(found()) >= count, None)
        return found()[:count]

    async def settle(self, quiet_s: float = 1.0, at_most_s: float = 8.0) -> None:
        """Let the story's last notifications arrive: until nothing new for `quiet_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + at_most_s
        while loop.time() < deadline:
            try:
                async with asyncio.timeout(quiet_s):
                    await self.watch.wait(self._grown_since(len(self.events())))
            except TimeoutError:
                return

    def _grown_since(self, seen: int) -> Callable[[], bool]:
        return lambda: len(self.events()) > seen

    def _answers(self, ids: Iterable[str]) -> list[Event]:
        wanted = set(ids)
        return [e for e in self.watch.events if e.causationid in wanted]

    async def _until(self, ready: Callable[[], bool], setup_ids: set[str] | None) -> None:
        def done() -> bool:
            refused = [
                e
                for e in (self._answers(setup_ids) if setup_ids else self.events())
                if e.type.endswith(".command_rejected")
            ]
            return bool(refused) or ready()

        await self.watch.wait(done)
        for e in self._answers(setup_ids) if setup_ids else self.events():
            if e.type.endswith(".command_rejected"):
                raise StoryFailed(
                    f"{e.data.get('command_type')} refused: {e.data.get('reason')} "
                    f"{e.data.get('errors', '')}"
                )
