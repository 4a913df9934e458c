"""Who a Kafka client is and how it connects: the one place that turns the environment
into aiokafka's (and FastStream's) client options.

Every client the project makes (the services, the operators' CLI, the infrastructure's
helpers, the benchmarks, the tests' harness) takes its options from here, in this order:
- `KAFKA_CLIENT_PROPERTIES`: a standard Kafka client properties file (`security.protocol`,
  `sasl.mechanism`, `sasl.jaas.config` with `username="…" password="…"`), the same file a
  Java client or `kafka-console-consumer --command-config` reads;
- else `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_MECHANISM` (default SCRAM-SHA-512),
  `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`;
- else PLAINTEXT: a broker without authentication (testcontainers).
"""

import asyncio
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from aiokafka.conn import create_conn
from aiokafka.errors import AuthenticationFailedError, KafkaError, SaslAuthenticationFailed
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
PROTOCOLS: Final = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
PROPERTIES_VARIABLE: Final = "KAFKA_CLIENT_PROPERTIES"
SCRAM_LOGIN_MODULE: Final = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_LOGIN_MODULE: Final = "org.apache.kafka.common.security.plain.PlainLoginModule"
# a properties file is a few lines; anything larger is not one
MAX_PROPERTIES_BYTES: Final = 64 * 1024

_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


class KafkaClientConfigError(ValueError):
    """The environment names a Kafka identity that cannot be used; one line for the operator."""


@dataclass(frozen=True)
class KafkaIdentity:
    """How a client authenticates: PLAINTEXT (nobody), or a SASL user and password."""

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: Mechanism | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # where it was read from (a file, the environment), for messages
    origin: str = "no credentials"

    @property
    def authenticated(self) -> bool:
        return self.security_protocol != "PLAINTEXT"

    def describe(self) -> str:
        """`user enterprise (SCRAM-SHA-512)` or `no authentication (PLAINTEXT)`."""
        if not self.authenticated:
            return "no authentication (PLAINTEXT)"
        return f"user {self.username} ({self.sasl_mechanism}, from {self.origin})"

    def options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for this identity (producer, consumer, admin)."""
        if not self.authenticated:
            return {"security_protocol": "PLAINTEXT"}
        options: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        if self.security_protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context()
        return options

    def security(self) -> BaseSecurity | None:
        """FastStream's `security=` for a KafkaBroker with this identity."""
        if not self.authenticated:
            return None
        assert self.username is not None
        assert self.password is not None
        use_ssl = self.security_protocol == "SASL_SSL"
        context = ssl.create_default_context() if use_ssl else None
        kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256}.get(
            self.sasl_mechanism or "", SASLPlaintext
        )
        return kind(self.username, self.password, ssl_context=context, use_ssl=use_ssl)


def parse_properties(text: str) -> dict[str, str]:
    """Java properties, the subset a client file uses: `key=value` or `key: value` lines,
    `#`/`!` comments, a trailing backslash continues the line."""
    properties: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)", line)
        if match is None:
            properties[line] = ""
            continue
        properties[match.group(1)] = match.group(2)
    if pending:
        key, _, value = pending.partition("=")
        properties[key.strip()] = value.strip()
    return properties


def jaas_options(jaas: str) -> dict[str, str]:
    """The quoted options of a `sasl.jaas.config` line (`username="…" password="…"`)."""
    return {key: re.sub(r"\\(.)", r"\1", value) for key, value in _JAAS_OPTION.findall(jaas)}


def _identity(
    protocol: str, mechanism: str | None, username: str | None, password: str | None, origin: str
) -> KafkaIdentity:
    protocol = protocol.strip().upper() or "PLAINTEXT"
    if protocol not in PROTOCOLS:
        raise KafkaClientConfigError(
            f"{origin}: security protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}"
        )
    if protocol == "PLAINTEXT":
        return KafkaIdentity(origin=origin)
    mechanism = (mechanism or "SCRAM-SHA-512").strip().upper()
    if mechanism not in MECHANISMS:
        raise KafkaClientConfigError(
            f"{origin}: SASL mechanism {mechanism!r} is not one of {', '.join(MECHANISMS)}"
        )
    if not username or not password:
        raise KafkaClientConfigError(f"{origin}: {protocol} needs a username and a password")
    return KafkaIdentity(
        cast(SecurityProtocol, protocol),
        cast(Mechanism, mechanism),
        username,
        password,
        origin,
    )


def identity_from_properties(path: Path) -> KafkaIdentity:
    """The identity a Kafka client properties file describes."""
    try:
        if path.stat().st_size > MAX_PROPERTIES_BYTES:
            raise KafkaClientConfigError(f"{path}: larger than a client properties file")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaClientConfigError(
            f"{PROPERTIES_VARIABLE}={path}: cannot read it ({exc.strerror or exc})"
        ) from None
    except UnicodeDecodeError:
        raise KafkaClientConfigError(f"{path}: not a UTF-8 properties file") from None
    properties = parse_properties(text)
    protocol = properties.get("security.protocol", "PLAINTEXT")
    jaas = jaas_options(properties.get("sasl.jaas.config", ""))
    return _identity(
        protocol,
        properties.get("sasl.mechanism"),
        jaas.get("username"),
        jaas.get("password"),
        str(path),
    )


def identity_from_environment(
    env: Mapping[str, str] | None = None, *, fallback: Path | None = None
) -> KafkaIdentity:
    """`KAFKA_CLIENT_PROPERTIES`, else the `KAFKA_SASL_*` variables, else `fallback` (a
    properties file, if it exists), else PLAINTEXT."""
    env = os.environ if env is None else env
    if configured := env.get(PROPERTIES_VARIABLE, "").strip():
        return identity_from_properties(Path(configured))
    protocol = env.get("KAFKA_SECURITY_PROTOCOL", "").strip()
    username = env.get("KAFKA_SASL_USERNAME", "").strip()
    if protocol or username:
        return _identity(
            protocol or "SASL_PLAINTEXT",
            env.get("KAFKA_SASL_MECHANISM"),
            username,
            env.get("KAFKA_SASL_PASSWORD"),
            "KAFKA_SASL_USERNAME" if username else "KAFKA_SECURITY_PROTOCOL",
        )
    if fallback is not None and fallback.is_file():
        return identity_from_properties(fallback)
    return KafkaIdentity()


def client_options(bootstrap_servers: str, identity: KafkaIdentity | None = None) -> dict[str, Any]:
    """`bootstrap_servers` and the security options of `identity` (by default the
    environment's): `AIOKafkaProducer(**client_options(bootstrap), acks="all")`."""
    who = identity_from_environment() if identity is None else identity
    return {"bootstrap_servers": bootstrap_servers, **who.options()}


def properties_text(
    username: str,
    password: str,
    *,
    mechanism: Mechanism = "SCRAM-SHA-512",
    protocol: SecurityProtocol = "SASL_PLAINTEXT",
) -> str:
    """A Kafka client properties file for one user (Java clients read it as it is)."""
    module = PLAIN_LOGIN_MODULE if mechanism == "PLAIN" else SCRAM_LOGIN_MODULE
    for value in (username, password):
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            # kept out of JAAS and properties quoting rules altogether
            raise KafkaClientConfigError(f"{value!r}: letters, digits, '.', '_' and '-' only")
    return (
        f"security.protocol={protocol}\n"
        f"sasl.mechanism={mechanism}\n"
        f'sasl.jaas.config={module} required username="{username}" password="{password}";\n'
    )


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (0600), whatever the umask; replaces it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(path)


async def refused_credentials(
    bootstrap_servers: str, identity: KafkaIdentity, *, timeout_s: float = 10.0
) -> str | None:
    """Why the first broker refuses `identity`'s credentials, or None if it does not.

    aiokafka's clients log an authentication failure and raise "Unable to bootstrap",
    the same as for a broker that is down; one connection of its own tells them apart.
    """
    if not identity.authenticated:
        return None
    host, _, port = bootstrap_servers.split(",", maxsplit=1)[0].strip().rpartition(":")
    try:
        async with asyncio.timeout(timeout_s):
            conn = await create_conn(host, int(port), **identity.options())
    except (SaslAuthenticationFailed, AuthenticationFailedError) as exc:
        return f"authentication failed for {identity.describe()}: {exc}"
    except (OSError, TimeoutError, KafkaError):
        return None  # not an answer about the credentials
    conn.close()
    return None
