"""Who may do what on the broker: the contract's ACLs, and `python -m infra.acls`.

Each service reads its own intake topic and the events topics it consumes (its wiring,
checked by tests/unit/test_kafka_acls.py), writes only its own events and private topics
and the dead-letter topic of each topic it consumes, and uses only its own consumer
group (named after it). The operators (the CLI) write the intake topics and read the
intake, events and dead-letter topics, without a consumer group (the CLI assigns
partitions itself). A private topic is read only by the consumers that need its
personal fields. Everything else is denied (`allow.everyone.if.no.acl.found=false`).

aiokafka's admin client has no `create_acls`; Kafka 4.1 still accepts version 1 of the
CreateAcls request, which aiokafka's protocol module defines, so the ACLs are sent with
it: no JVM, and the same code in compose's one-shot job. Creating an ACL that exists
changes nothing, so `ensure_acls` runs at every start.
"""

import asyncio
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1
from aiokafka.protocol.api import Request

from infra.credentials import OPERATORS, SERVICE_USERS
from infra.topics import EVENTS_TOPICS, INTAKE_TOPICS
from shared._kit.kafka_client import KafkaIdentity, client_options
from shared._kit.topics import dlq_topic, events_topic, intake_topic, private_topic

CLUSTER: Final = "kafka-cluster"
WAIT_S = 60.0


class Resource(IntEnum):
    """Kafka's AclResourceType codes."""

    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class Operation(IntEnum):
    """Kafka's AclOperation codes."""

    READ = 3
    WRITE = 4
    DESCRIBE = 8
    IDEMPOTENT_WRITE = 12


LITERAL: Final = 3  # PatternType
ALLOW: Final = 3  # AclPermissionType

# the topics each service consumes besides its own intake (its wiring: facts it reacts
# to, its own included where it reacts to its own facts)
CONSUMES: Final[Mapping[str, tuple[str, ...]]] = {
    "enterprise": ("enterprise.events",),
    "outreach": (),
    "mediation": ("mediation.events",),
    "notifier": ("enterprise.events", "outreach.events", "mediation.events"),
}
# who may read the personal fields of each service's facts (contract.md, "Topics"): the
# readers declared `private=True`, and the owner where it reacts to its own facts that
# have personal fields (it reads them whole, as it stated them)
PRIVATE_READERS: Final[Mapping[str, tuple[str, ...]]] = {
    "enterprise.private": ("notifier", "enterprise"),
    "outreach.private": ("notifier", "mediation"),
    "mediation.private": ("notifier", "mediation"),
}


@dataclass(frozen=True, order=True)
class Acl:
    """Allow `principal` to do `operation` on one resource, from any host."""

    principal: str
    resource: Resource
    name: str
    operation: Operation

    def __str__(self) -> str:
        return f"{self.principal} {self.operation.name} {self.resource.name}:{self.name}"


def _user(name: str) -> str:
    return f"User:{name}"


def _on_topics(user: str, topics: Iterable[str], *operations: Operation) -> list[Acl]:
    return [
        Acl(_user(user), Resource.TOPIC, topic, op)
        for topic in topics
        for op in (*operations, Operation.DESCRIBE)
    ]


def service_acls(service: str) -> list[Acl]:
    """What one service needs: read what it consumes, write its facts and those DLQs."""
    intake = intake_topic(service) if intake_topic(service) in INTAKE_TOPICS else None
    reads = [*([intake] if intake else []), *CONSUMES[service]]
    private_reads = [topic for topic, readers in PRIVATE_READERS.items() if service in readers]
    writes = [events_topic(service), *[dlq_topic(topic) for topic in (*reads, *private_reads)]]
    if service != "notifier":
        writes.append(private_topic(service))
    return sorted(
        {
            *_on_topics(service, [*reads, *private_reads], Operation.READ),
            *_on_topics(service, writes, Operation.WRITE),
            Acl(_user(service), Resource.GROUP, service, Operation.READ),
            Acl(_user(service), Resource.GROUP, service, Operation.DESCRIBE),
            Acl(_user(service), Resource.CLUSTER, CLUSTER, Operation.IDEMPOTENT_WRITE),
        }
    )


def operators_acls() -> list[Acl]:
    """The CLI: commands in, facts and dead letters out; never a fact in."""
    readable = [
        *INTAKE_TOPICS,
        *EVENTS_TOPICS,
        *(dlq_topic(t) for t in (*INTAKE_TOPICS, *EVENTS_TOPICS)),
    ]
    return sorted(
        {
            *_on_topics(OPERATORS, INTAKE_TOPICS, Operation.WRITE),
            *_on_topics(OPERATORS, readable, Operation.READ),
            Acl(_user(OPERATORS), Resource.CLUSTER, CLUSTER, Operation.IDEMPOTENT_WRITE),
        }
    )


def contract_acls() -> list[Acl]:
    """Every ACL of the contract's users."""
    return [*(acl for s in SERVICE_USERS for acl in service_acls(s)), *operators_acls()]


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc] # aiokafka is untyped
    API_KEY = 30

    def __init__(self, acls: list[Acl]) -> None:
        self.acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (acl.resource, acl.name, LITERAL, acl.principal, "*", acl.operation, ALLOW)
                for acl in self.acls
            ]
        )


async def ensure_acls(
    bootstrap_servers: str, acls: list[Acl], identity: KafkaIdentity | None = None
) -> int:
    """Create the ACLs (those that exist stay as they are); return how many were sent."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers, identity))
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(acls))
        for acl, (code, message) in zip(acls, response.creation_responses, strict=True):
            if code != 0:
                raise for_code(code)(f"cannot create ACL {acl}: {message}")
        return len(acls)
    finally:
        await admin.close()


async def create(bootstrap_servers: str) -> int:
    """Retry until the broker answers, then create the ACLs."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        try:
            return await ensure_acls(bootstrap_servers, contract_acls())
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)


def main() -> int:
    """`python -m infra.acls`: compose's one-shot job, as the admin user of its env."""
    bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap_servers:
        print("create_acls: KAFKA_BOOTSTRAP_SERVERS is not set", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(create(bootstrap_servers))
    except Exception as exc:  # noqa: BLE001 - one line for the operator, whatever failed
        print(f"create_acls: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"create_acls: {count} ACLs present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
