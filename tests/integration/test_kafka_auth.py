"""The broker enforces who speaks (issue 22): clients sign in with SASL/SCRAM-SHA-512 and
the ACLs of infra/acls.py decide what each user may do. Against the local broker with its
users; the topics' retention against any broker."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from infra.credentials import ADMIN, Credentials
from infra.kafka import describe_topic_configs, set_topic_configs
from infra.topics import DAY_MS, contract_topics
from shared._kit.kafka_client import KafkaIdentity, client_options, refused_credentials
from tests.processes import ServiceProcess
from tests.support import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
def users(infra: Infra) -> Credentials:
    if infra.kafka_users is None:
        pytest.skip(f"the broker under test ({infra.source}) has no users: no authentication")
    return infra.kafka_users


async def _send(bootstrap: str, who: KafkaIdentity, topic: str) -> None:
    """One record to `topic`, signed in as `who`."""
    producer = AIOKafkaProducer(
        **client_options(bootstrap, who),
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=10_000,
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"probe")
    finally:
        await producer.stop()


async def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
    infra: Infra, users: Credentials
) -> None:
    with pytest.raises(KafkaConnectionError):
        await _send(infra.kafka_bootstrap_servers, KafkaIdentity(), "enterprise.intake")

    wrong = KafkaIdentity("SASL_PLAINTEXT", "SCRAM-SHA-512", "enterprise", "not-its-password")
    with pytest.raises(KafkaConnectionError):
        await _send(infra.kafka_bootstrap_servers, wrong, "enterprise.intake")
    reason = await refused_credentials(infra.kafka_bootstrap_servers, wrong)
    assert reason is not None
    assert "authentication failed for user enterprise" in reason
    assert await refused_credentials(infra.kafka_bootstrap_servers, users.identity(ADMIN)) is None


async def test_a_service_may_state_only_its_own_facts(infra: Infra, users: Credentials) -> None:
    enterprise = users.identity("enterprise")
    await _send(infra.kafka_bootstrap_servers, enterprise, "enterprise.events")

    for topic in ("outreach.events", "notifier.events", "mediation.intake", "outreach.private"):
        with pytest.raises(TopicAuthorizationFailedError):
            await _send(infra.kafka_bootstrap_servers, enterprise, topic)


async def test_the_operators_write_commands_but_never_a_fact(
    infra: Infra, users: Credentials
) -> None:
    operators = users.identity("operators")
    await _send(infra.kafka_bootstrap_servers, operators, "enterprise.intake")

    for topic in ("enterprise.events", "outreach.events", "mediation.events", "notifier.events"):
        with pytest.raises(TopicAuthorizationFailedError):
            await _send(infra.kafka_bootstrap_servers, operators, topic)


async def _join(bootstrap: str, who: KafkaIdentity, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(bootstrap, who),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=3000)
        await consumer.commit()
    finally:
        await consumer.stop()


async def test_a_service_uses_only_its_own_consumer_group(infra: Infra, users: Credentials) -> None:
    # notifier may read enterprise.events, in its own group
    notifier = users.identity("notifier")
    await _join(infra.kafka_bootstrap_servers, notifier, "enterprise.events", "notifier")

    with pytest.raises(GroupAuthorizationFailedError):
        await _join(infra.kafka_bootstrap_servers, notifier, "enterprise.events", "mediation")


async def test_personal_fields_are_read_only_by_the_consumers_that_need_them(
    infra: Infra, users: Credentials
) -> None:
    await _join(
        infra.kafka_bootstrap_servers, users.identity("mediation"), "outreach.private", "mediation"
    )
    with pytest.raises(TopicAuthorizationFailedError):
        await _join(
            infra.kafka_bootstrap_servers,
            users.identity("enterprise"),
            "outreach.private",
            "enterprise",
        )


async def test_a_service_with_a_wrong_password_stops_with_one_line_naming_its_user(
    infra: Infra, users: Credentials, tmp_path: Path, unique_id: Callable[[str], str]
) -> None:
    bad = tmp_path / "enterprise.properties"
    text = users.properties("enterprise").read_text()
    bad.write_text(text.replace(users.passwords["enterprise"], "wrong-password"))
    service = ServiceProcess(
        "enterprise",
        {
            **infra.env(),
            "KAFKA_CLIENT_PROPERTIES": str(bad),
            "ENTERPRISE_STARTUP_TIMEOUT_S": "10",
            "ENTERPRISE_MONGODB_DATABASE": unique_id("unused").replace("-", "_"),
        },
    )
    await service.start()
    assert await service.wait_exit(timeout_s=40) == 1
    [failed] = [e for e in service.events() if e["event"] == "startup_failed"]
    assert "authentication failed for user enterprise" in str(failed["reason"])
    assert "wrong-password" not in "\n".join(service.lines)


async def test_every_contract_topic_has_its_retention(infra: Infra) -> None:
    configs = await describe_topic_configs(infra.kafka_bootstrap_servers, contract_topics())

    retention = {topic: int(c["retention.ms"]) / DAY_MS for topic, c in configs.items()}
    expected = {
        topic: 14 if topic.endswith(".dlq") else 7 if topic.endswith(".intake") else 30
        for topic in contract_topics()
    }
    assert retention == expected


async def test_an_existing_topic_is_given_its_retention(
    infra: Infra, fresh_topic: Callable[..., Awaitable[str]]
) -> None:
    """`up` on a kept data folder: topics created before retention existed get it too."""
    topic = await fresh_topic("retention")
    before = await describe_topic_configs(infra.kafka_bootstrap_servers, [topic])
    assert before[topic]["retention.ms"] == str(7 * DAY_MS)  # the broker's default

    await set_topic_configs(infra.kafka_bootstrap_servers, {topic: {"retention.ms": "3600000"}})

    after = await describe_topic_configs(infra.kafka_bootstrap_servers, [topic])
    assert after[topic]["retention.ms"] == "3600000"
