"""docker-compose.yml cannot run here (no Docker engine), so its promises are checked as data."""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ["mediation", "enterprise", "outreach", "notifier"]
ONE_SHOT_JOBS = {"topics"}
OPTIONAL = {"kafka-ui"}  # started only with its profile


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_every_long_running_container_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        "kafka",
        "mongo",
        "dev-sinks",
        *ONE_SHOT_JOBS,
        *APP_SERVICES,
        *OPTIONAL,
    }
    for name, service in services.items():
        if name in ONE_SHOT_JOBS:
            assert service["restart"] == "no"
        else:
            assert service["healthcheck"]["test"], name


def test_every_dependency_waits_for_health_or_completion(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for dependency, rule in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully"
                if dependency in ONE_SHOT_JOBS
                else "service_healthy"
            )
            assert rule == {"condition": expected}, f"{name} -> {dependency}"
    for name in APP_SERVICES:
        assert set(compose["services"][name]["depends_on"]) == {"kafka", "mongo", "topics"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_reaches_only_its_own_database(compose: dict[str, Any], name: str) -> None:
    env = compose["services"][name]["environment"]
    url = env["MONGODB_URL"]
    match = re.fullmatch(r"mongodb://(\w+):\$\{(\w+):\?\}@mongo:27017/(\w+)\?authSource=(\w+)", url)
    assert match is not None, url
    assert match.groups() == (name, f"{name.upper()}_DB_PASSWORD", name, name)
    assert env[f"{name.upper()}_MONGODB_DATABASE"] == name
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    port = env[f"{name.upper()}_HTTP_PORT"]
    assert f"127.0.0.1:{port}/readyz" in " ".join(compose["services"][name]["healthcheck"]["test"])


def test_mongo_users_are_scoped_to_their_database() -> None:
    script = (ROOT / "deploy" / "mongo-init.js").read_text()
    assert 'const services = ["mediation", "enterprise", "outreach", "notifier"];' in script
    assert 'roles: [{ role: "readWrite", db: name }]' in script
    assert "getSiblingDB(name).createUser" in script


def test_secrets_are_required_never_written_down(compose: dict[str, Any]) -> None:
    mongo_env = compose["services"]["mongo"]["environment"]
    for key, value in mongo_env.items():
        assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), key
    # no password literal anywhere: every *PASSWORD* value is a required variable
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key:
                assert re.fullmatch(r"\$\{\w+_PASSWORD:\?[^}]*\}", str(value)), (name, key)
            if "JAAS" in key:
                assert re.search(r'password="\$\{\w+_PASSWORD:\?\}"', str(value)), (name, key)
    example = (ROOT / ".env.example").read_text()
    assert re.findall(r"^(\w+_PASSWORD)=(.*)$", example, re.M) == [
        (key, "") for key in re.findall(r"^(\w+_PASSWORD)=", example, re.M)
    ]


@pytest.mark.parametrize(("name", "data_dirs"), [("kafka", "KAFKA_LOG_DIRS"), ("mongo", None)])
def test_stateful_services_keep_their_data_on_a_named_volume(
    compose: dict[str, Any], name: str, data_dirs: str | None
) -> None:
    """apache/kafka writes to /tmp/kraft-combined-logs unless KAFKA_LOG_DIRS says otherwise,
    and mongo to /data/db: the data must land on the mounted volume, not in the container."""
    service = compose["services"][name]
    mounts = {
        target: source
        for source, target, *_ in (volume.split(":") for volume in service["volumes"])
    }
    folders = service["environment"][data_dirs].split(",") if data_dirs else ["/data/db"]
    for folder in folders:
        mounted = [t for t in mounts if folder == t or folder.startswith(t.rstrip("/") + "/")]
        assert mounted, f"{name}: {folder} is not on a mounted volume"
        assert mounts[mounted[0]] in compose["volumes"], f"{name}: {folder} is not a named volume"


def test_kafka_matches_the_local_broker_major_version(compose: dict[str, Any]) -> None:
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    local = re.search(r"<kafka.version>(\d+)\.", pom)
    assert local is not None
    assert compose["services"]["kafka"]["image"].startswith(f"apache/kafka:{local.group(1)}.")


def test_dockerfile_runs_as_non_root_from_the_lock_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)


def _compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_config_is_valid_and_refuses_missing_secrets(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        # .ci/run installs Debian's docker-compose, so in CI this check always runs
        assert not os.environ.get("CI"), "CI must have docker-compose (see .ci/run)"
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    env_file = tmp_path / ".env"
    env_file.write_text(
        re.sub(
            r"_PASSWORD=$", "_PASSWORD=test-only", (ROOT / ".env.example").read_text(), flags=re.M
        )
    )
    base = [*cli, "-f", str(ROOT / "docker-compose.yml"), "--env-file"]

    valid = subprocess.run(
        [*base, str(env_file), "config", "-q"], capture_output=True, text=True, check=False
    )
    missing = subprocess.run(
        [*base, str(ROOT / ".env.example"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert valid.returncode == 0, valid.stderr
    assert missing.returncode != 0
    # the first secret compose finds missing is named (Kafka's or MongoDB's)
    assert re.search(r"set \w+_PASSWORD in \.env", missing.stderr), missing.stderr


def test_the_notifier_reaches_the_development_sinks_only_when_told_to(
    compose: dict[str, Any],
) -> None:
    environment = compose["services"]["notifier"]["environment"]
    sinks = compose["services"]["dev-sinks"]

    assert environment["NOTIFIER_SMS_GATEWAY_URL"] == "${NOTIFIER_SMS_GATEWAY_URL:-}"
    assert environment["NOTIFIER_SMTP_HOST"] == "${NOTIFIER_SMTP_HOST:-}"
    assert sinks["profiles"] == ["dev"], "only with `docker compose --profile dev up`"
    assert sinks["ports"] == ["127.0.0.1:8110:8110", "127.0.0.1:8025:8025"]
    assert "DEV_SINKS_FAULTS" not in (sinks.get("environment") or {})


def test_the_kafka_web_ui_is_optional_pinned_read_only_and_local(compose: dict[str, Any]) -> None:
    ui = compose["services"]["kafka-ui"]
    assert ui["profiles"] == ["ui"], "only with `docker compose --profile ui up`"
    image, _, tag = ui["image"].rpartition(":")
    assert image == "ghcr.io/kafbat/kafka-ui"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), f"pinned to a release, not {tag!r}"
    env = ui["environment"]
    assert env["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:9092"
    assert env["KAFKA_CLUSTERS_0_READONLY"] == "true", "operators look; commands go through the CLI"
    assert ui["ports"] == ["127.0.0.1:8080:8080"], "not published beyond this machine"
    others = (s for name, s in compose["services"].items() if name not in ("kafka-ui", "dev-sinks"))
    assert all("profiles" not in s for s in others), "the stack itself needs no profile"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_signs_in_to_kafka_as_itself(compose: dict[str, Any], name: str) -> None:
    env = compose["services"][name]["environment"]
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_USERNAME"] == name
    assert env["KAFKA_SASL_PASSWORD"] == f"${{KAFKA_{name.upper()}_PASSWORD:?}}"


def test_kafka_requires_scram_and_acls_and_the_job_creates_them_as_admin(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    script = (ROOT / "deploy" / "kafka-start.sh").read_text()
    assert "./deploy/kafka-start.sh:/opt/station/kafka-start.sh:ro" in kafka["volumes"]
    assert kafka["entrypoint"] == ["/bin/sh", "/opt/station/kafka-start.sh"]
    for line in (
        "listeners=SASL_PLAINTEXT://:9092,CONTROLLER://:9093",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "super.users=User:admin;User:controller",
    ):
        assert f"\n{line}\n" in script, line
    users = {"admin", "operators", *APP_SERVICES}
    assert set(re.findall(r"--add-scram \"SCRAM-SHA-512=\[name=(\w+),", script)) == users
    for user in [*users, "controller"]:
        assert f"KAFKA_{user.upper()}_PASSWORD" in kafka["environment"], user
    job = compose["services"]["topics"]
    assert job["command"] == ["sh", "-c", "python -m infra.acls && python -m infra.topics"]
    assert job["environment"]["KAFKA_SASL_USERNAME"] == "admin"
    assert "--command-config" in " ".join(kafka["healthcheck"]["test"])


def test_every_published_port_is_on_the_hosts_loopback(compose: dict[str, Any]) -> None:
    """Nothing the stack serves (services without authentication, sinks, the web UI) is
    reachable from another machine; Kafka and MongoDB are not published at all."""
    published = {name: service.get("ports", []) for name, service in compose["services"].items()}
    for name, ports in published.items():
        for port in ports:
            spec = port if isinstance(port, str) else f"{port.get('host_ip')}:{port['published']}"
            assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", spec), (name, port)
    assert not published["kafka"], "Kafka is reached on the compose network only"
    assert not published["mongo"], "MongoDB is reached on the compose network only"
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        port = env[f"{name.upper()}_HTTP_PORT"]
        assert published[name] == [f"127.0.0.1:{port}:{port}"], name
        # inside its container the service listens on every interface, or the published
        # port would find nothing; the host publishes it on loopback only
        assert env[f"{name.upper()}_HTTP_HOST"] == "0.0.0.0"
