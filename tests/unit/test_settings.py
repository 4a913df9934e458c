"""Settings fail fast with messages that name the environment variable to fix."""

import pytest
from aiokafka.errors import NodeNotReadyError

from services.enterprise.settings import EnterpriseSettings
from services.notifier.settings import NotifierSettings
from shared._kit.settings import SettingsError
from shared._kit.startup import _topics_within

GOOD = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "MONGODB_URL": "mongodb://127.0.0.1/"}


def _load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> EnterpriseSettings:
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "ENTERPRISE_HTTP_PORT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return EnterpriseSettings.load()


def test_defaults_give_each_service_its_own_database_group_and_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enterprise = _load(monkeypatch, GOOD)
    notifier = NotifierSettings.load()

    assert (enterprise.mongodb_database, enterprise.consumer_group) == ("enterprise", "enterprise")
    assert (notifier.mongodb_database, notifier.consumer_group) == ("notifier", "notifier")
    assert enterprise.http_port != notifier.http_port


def test_service_knobs_take_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(monkeypatch, {**GOOD, "ENTERPRISE_HTTP_PORT": "9100", "HTTP_PORT": "1"})

    assert settings.http_port == 9100


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MONGODB_URL": "mongodb://x/"}, "KAFKA_BOOTSTRAP_SERVERS is not set"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "a:1"}, "MONGODB_URL is not set"),
        ({**GOOD, "KAFKA_BOOTSTRAP_SERVERS": "kafka"}, "KAFKA_BOOTSTRAP_SERVERS Value error"),
        ({**GOOD, "KAFKA_BOOTSTRAP_SERVERS": "a:1,b:x"}, "expected host:port"),
        ({**GOOD, "MONGODB_URL": "postgres://x/"}, "MONGODB_URL Value error"),
        ({**GOOD, "ENTERPRISE_HTTP_PORT": "0"}, "ENTERPRISE_HTTP_PORT Input should be"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        _load(monkeypatch, env)


def test_all_problems_are_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(monkeypatch, {})

    assert str(caught.value) == "KAFKA_BOOTSTRAP_SERVERS is not set; MONGODB_URL is not set"


class _SlowBroker:
    """An admin client whose broker connection is not ready for its first two asks."""

    def __init__(self, not_ready: int) -> None:
        self.not_ready = not_ready
        self.asked = 0

    async def start(self) -> None:
        return None

    async def list_topics(self) -> list[str]:
        self.asked += 1
        if self.asked <= self.not_ready:
            raise NodeNotReadyError("node id None")
        return ["enterprise.intake"]


async def test_a_broker_connection_not_ready_yet_is_asked_again_within_the_timeout() -> None:
    broker = _SlowBroker(not_ready=2)
    assert await _topics_within(broker, timeout_s=5.0) == {"enterprise.intake"}
    assert broker.asked == 3


async def test_a_broker_never_ready_fails_once_the_timeout_is_spent() -> None:
    broker = _SlowBroker(not_ready=1_000)
    with pytest.raises(NodeNotReadyError):
        await _topics_within(broker, timeout_s=0.6)
    assert broker.asked >= 2


def test_a_service_listens_on_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENTERPRISE_HTTP_HOST", raising=False)
    assert _load(monkeypatch, GOOD).http_host == "127.0.0.1"
    monkeypatch.setenv("ENTERPRISE_HTTP_HOST", "0.0.0.0")
    assert _load(monkeypatch, GOOD).http_host == "0.0.0.0"
