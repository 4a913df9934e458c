"""The contract's ACLs: each service may read what its wiring consumes and write only its
own facts and those DLQs; the operators write commands, never facts."""

import importlib
from typing import Any

import pytest

from infra.acls import (
    CLUSTER,
    CONSUMES,
    PRIVATE_READERS,
    Acl,
    Operation,
    Resource,
    contract_acls,
    operators_acls,
    service_acls,
)
from infra.credentials import SERVICE_USERS
from infra.topics import EVENTS_TOPICS, INTAKE_TOPICS, contract_topics
from shared._kit.clock import SystemClock
from shared._kit.memory import MemoryDatabase
from shared._kit.runtime import Runtime
from shared._kit.server import Service


def _wired_topics(name: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The topics a service subscribes to, from its own wiring."""
    module = importlib.import_module(f"services.{name}.app")
    service = next(v for v in vars(module).values() if isinstance(v, Service))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1/")
    monkeypatch.setenv(f"{name.upper()}_HTTP_PORT", "8100")
    monkeypatch.delenv("KAFKA_CLIENT_PROPERTIES", raising=False)
    settings: Any = service.settings.load()
    runtime: Runtime[Any] = Runtime(
        service=name,
        settings=settings,
        db=MemoryDatabase(name),  # type: ignore[arg-type]
        clock=SystemClock(),
        timer_owner="test",
    )
    service.wire(runtime)
    return list(runtime.routes)


def _allowed(acls: list[Acl], user: str, operation: Operation) -> set[str]:
    return {
        a.name
        for a in acls
        if a.principal == f"User:{user}"
        and a.operation == operation
        and a.resource == Resource.TOPIC
    }


@pytest.mark.parametrize("name", SERVICE_USERS)
def test_each_service_may_read_exactly_what_its_wiring_consumes(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumed = set(_wired_topics(name, monkeypatch))
    acls = service_acls(name)
    readable = _allowed(acls, name, Operation.READ)

    assert readable == consumed
    private = {topic for topic, readers in PRIVATE_READERS.items() if name in readers}
    assert set(CONSUMES[name]) | private | ({f"{name}.intake"} & set(INTAKE_TOPICS)) == consumed


@pytest.mark.parametrize("name", SERVICE_USERS)
def test_each_service_writes_its_own_facts_and_the_dlqs_of_what_it_reads(name: str) -> None:
    acls = service_acls(name)
    writable = _allowed(acls, name, Operation.WRITE)
    readable = _allowed(acls, name, Operation.READ)

    facts = {t for t in writable if not t.endswith(".dlq")}
    assert facts == ({f"{name}.events", f"{name}.private"} - {"notifier.private"})
    assert {t for t in writable if t.endswith(".dlq")} == {f"{t}.dlq" for t in readable}
    assert not (writable & set(INTAKE_TOPICS))
    # its own consumer group only, and idempotent producing
    groups = {a.name for a in acls if a.resource == Resource.GROUP}
    assert groups == {name}
    assert Acl(f"User:{name}", Resource.CLUSTER, CLUSTER, Operation.IDEMPOTENT_WRITE) in acls


def test_private_topics_are_read_only_by_the_consumers_that_need_them() -> None:
    acls = contract_acls()
    readers = {
        topic: {a.principal for a in acls if a.name == topic and a.operation == Operation.READ}
        for topic in ("enterprise.private", "outreach.private", "mediation.private")
    }
    # the notifier for phones and greetings, mediation for a dispute's parties, and an
    # owner that reacts to its own facts with personal fields
    assert readers == {
        "enterprise.private": {"User:notifier", "User:enterprise"},
        "outreach.private": {"User:notifier", "User:mediation"},
        "mediation.private": {"User:notifier", "User:mediation"},
    }


def test_operators_write_commands_and_read_facts_but_write_no_fact() -> None:
    acls = operators_acls()
    assert _allowed(acls, "operators", Operation.WRITE) == set(INTAKE_TOPICS)
    readable = _allowed(acls, "operators", Operation.READ)
    assert set(EVENTS_TOPICS) <= readable
    assert {t for t in contract_topics() if t.endswith(".dlq") and ".private" not in t} <= readable
    assert not {t for t in readable if t.endswith(".private")}
    assert not [a for a in acls if a.resource == Resource.GROUP]


def test_every_acl_names_a_contract_topic_a_group_or_the_cluster() -> None:
    topics = set(contract_topics())
    for acl in contract_acls():
        if acl.resource == Resource.TOPIC:
            assert acl.name in topics, acl
