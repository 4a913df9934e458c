"""The local Kafka's users and their passwords: generated on first start into the data
folder, one client properties file per user (mode 0600), kept with the data they guard.

Users: one per service (its principal is the service's name), `operators` (the CLI) and
`admin` (super user: the infrastructure itself and the tests' harness). The broker's own
listener to its controller authenticates as `controller` with SASL/PLAIN (a SCRAM user
cannot sign in there: SCRAM credentials live in the metadata log the controller serves).
"""

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from shared._kit.kafka_client import (
    KafkaClientConfigError,
    KafkaIdentity,
    identity_from_properties,
    properties_text,
    write_private,
)

SERVICE_USERS: Final = ("enterprise", "outreach", "mediation", "notifier")
OPERATORS: Final = "operators"
ADMIN: Final = "admin"
CONTROLLER: Final = "controller"
USERS: Final = (*SERVICE_USERS, OPERATORS, ADMIN)
MECHANISM: Final = "SCRAM-SHA-512"
# 32 random bytes, URL-safe: no character that JAAS or properties quoting would change
PASSWORD_BYTES: Final = 32


def properties_path(data: Path, user: str) -> Path:
    """`<data>/<user>.properties`: `operators.properties` is what `station` reads."""
    return data / f"{user}.properties"


@dataclass(frozen=True)
class Credentials:
    """Every local user's password, and where its client properties file is."""

    data: Path
    passwords: dict[str, str]

    def identity(self, user: str) -> KafkaIdentity:
        return KafkaIdentity(
            "SASL_PLAINTEXT",
            MECHANISM if user != CONTROLLER else "PLAIN",
            user,
            self.passwords[user],
            str(properties_path(self.data, user)),
        )

    def properties(self, user: str) -> Path:
        return properties_path(self.data, user)

    def scram_arguments(self) -> list[str]:
        """`--add-scram` for every SCRAM user, for Kafka's StorageTool at format time."""
        return [
            arg
            for user in USERS
            for arg in (
                "--add-scram",
                f"{MECHANISM}=[name={user},password={self.passwords[user]}]",
            )
        ]


def ensure_credentials(data: Path) -> Credentials:
    """The users' passwords from their properties files in `data`, each one generated
    (secrets module) and written (0600) the first time."""
    data.mkdir(parents=True, exist_ok=True)
    # the folder holds the broker's log and FerretDB's files: residents' records, private
    # to their user like the run folder (a folder kept from before is narrowed too)
    data.chmod(0o700)
    passwords: dict[str, str] = {}
    for user in (*USERS, CONTROLLER):
        path = properties_path(data, user)
        if path.exists():
            identity = identity_from_properties(path)
            if identity.username != user or identity.password is None:
                raise KafkaClientConfigError(f"{path}: not the properties of user {user}")
            passwords[user] = identity.password
            continue
        passwords[user] = secrets.token_urlsafe(PASSWORD_BYTES)
        write_private(
            path,
            properties_text(
                user, passwords[user], mechanism="PLAIN" if user == CONTROLLER else MECHANISM
            ),
        )
    return Credentials(data, passwords)


def read_credentials(data: Path) -> Credentials | None:
    """The credentials kept in `data`, or None when it has none (a broker without auth)."""
    if not properties_path(data, ADMIN).exists():
        return None
    return ensure_credentials(data)
