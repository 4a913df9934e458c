"""Where a Kafka client's identity comes from, and what options it turns into."""

import stat
from pathlib import Path

import pytest

from infra.credentials import ensure_credentials
from services.enterprise.settings import EnterpriseSettings
from shared._kit.kafka_client import (
    KafkaClientConfigError,
    KafkaIdentity,
    client_options,
    identity_from_environment,
    identity_from_properties,
    parse_properties,
    properties_text,
    write_private,
)
from shared._kit.settings import SettingsError


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "client.properties"
    path.write_text(text)
    return path


def test_a_standard_client_properties_file_names_the_user(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "# written by hand\n"
        "security.protocol = SASL_PLAINTEXT\n"
        "sasl.mechanism: SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n"
        '    required username="enterprise" password="pa\\"ss";\n',
    )

    who = identity_from_properties(path)

    assert (who.security_protocol, who.sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert (who.username, who.password) == ("enterprise", 'pa"ss')
    assert client_options("k:9092", who) == {
        "bootstrap_servers": "k:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "enterprise",
        "sasl_plain_password": 'pa"ss',
    }
    assert "pa" not in repr(who)


def test_the_file_this_module_writes_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "ops.properties"
    write_private(path, properties_text("operators", "s3cret-_x"))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert identity_from_properties(path).password == "s3cret-_x"
    assert parse_properties(path.read_text())["sasl.mechanism"] == "SCRAM-SHA-512"


def test_the_properties_file_wins_over_the_variables(tmp_path: Path) -> None:
    path = _file(tmp_path, properties_text("outreach", "pw"))
    env = {
        "KAFKA_CLIENT_PROPERTIES": str(path),
        "KAFKA_SASL_USERNAME": "someone",
        "KAFKA_SASL_PASSWORD": "else",
    }
    assert identity_from_environment(env).username == "outreach"


def test_variables_alone_make_a_scram_512_user() -> None:
    who = identity_from_environment({"KAFKA_SASL_USERNAME": "x", "KAFKA_SASL_PASSWORD": "y"})
    assert (who.security_protocol, who.sasl_mechanism, who.username) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
        "x",
    )


def test_nothing_set_is_plaintext_unless_a_fallback_file_exists(tmp_path: Path) -> None:
    assert identity_from_environment({}) == KafkaIdentity()
    assert client_options("k:1", KafkaIdentity()) == {
        "bootstrap_servers": "k:1",
        "security_protocol": "PLAINTEXT",
    }
    fallback = _file(tmp_path, properties_text("operators", "pw"))
    assert identity_from_environment({}, fallback=fallback).username == "operators"
    assert identity_from_environment({}, fallback=tmp_path / "absent") == KafkaIdentity()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_CLIENT_PROPERTIES": "/nonexistent/x.properties"}, "cannot read it"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL_MAYBE"}, "is not one of"),
        ({"KAFKA_SASL_USERNAME": "x"}, "needs a username and a password"),
        (
            {"KAFKA_SASL_USERNAME": "x", "KAFKA_SASL_PASSWORD": "y", "KAFKA_SASL_MECHANISM": "MD5"},
            "SASL mechanism 'MD5'",
        ),
    ],
)
def test_a_bad_identity_is_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(KafkaClientConfigError, match=message):
        identity_from_environment(env)


def test_a_service_with_a_bad_credentials_file_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1:27017/")
    monkeypatch.setenv("ENTERPRISE_HTTP_PORT", "8102")
    monkeypatch.setenv(
        "KAFKA_CLIENT_PROPERTIES", str(_file(tmp_path, "security.protocol=SASL_PLAINTEXT\n"))
    )

    with pytest.raises(SettingsError, match="needs a username and a password"):
        EnterpriseSettings.load()


def test_the_data_folder_with_the_credentials_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)

    ensure_credentials(data)

    assert data.stat().st_mode & 0o777 == 0o700
