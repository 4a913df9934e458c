"""Adding SCRAM users to a running broker, for a data folder formatted before it had any.

The users of a new data folder are written at format time (infra/servers.py); one kept
from before authentication was on has none, so nobody could sign in to its broker. Its
controller listener still takes the `controller` user (SASL/PLAIN, from the broker's
own configuration, a super user), and Kafka serves AlterUserScramCredentials there:
sent over one connection of aiokafka's, as aiokafka's admin client has no such call.
"""

import hashlib
import logging
import secrets
from typing import Final

from aiokafka.conn import create_conn
from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from infra.credentials import CONTROLLER, MECHANISM, USERS, Credentials

SCRAM_SHA_512: Final = 2  # Kafka's ScramMechanism code
ITERATIONS: Final = 8192  # what Kafka's own tools use (the minimum is 4096)
SALT_BYTES: Final = 32


class _AlterUserScramCredentialsResponse(Response):  # type: ignore[misc] # aiokafka is untyped
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsStruct(RequestStruct):  # type: ignore[misc] # aiokafka is untyped
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterUserScramCredentialsResponse
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentials(Request[_AlterUserScramCredentialsStruct]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, upsertions: list[tuple[str, int, int, bytes, bytes, dict[int, bytes]]]):
        self.upsertions = upsertions

    def build(
        self, request_struct_class: type[_AlterUserScramCredentialsStruct]
    ) -> _AlterUserScramCredentialsStruct:
        return request_struct_class([], self.upsertions, {})


def salted_password(password: str, salt: bytes, iterations: int = ITERATIONS) -> bytes:
    """SCRAM's SaltedPassword (RFC 5802: Hi, i.e. PBKDF2 with HMAC-SHA-512)."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


async def add_users(host: str, controller_port: int, credentials: Credentials) -> None:
    """Give every SCRAM user its password, through the controller listener."""
    assert MECHANISM == "SCRAM-SHA-512"
    upsertions: list[tuple[str, int, int, bytes, bytes, dict[int, bytes]]] = []
    for user in USERS:
        salt = secrets.token_bytes(SALT_BYTES)
        password = salted_password(credentials.passwords[user], salt)
        upsertions.append((user, SCRAM_SHA_512, ITERATIONS, salt, password, {}))
    # aiokafka warns that PLAIN sends the password in the clear: on loopback, as intended
    conn_log = logging.getLogger("aiokafka.conn")
    level = conn_log.level
    conn_log.setLevel(logging.ERROR)
    try:
        conn = await create_conn(
            host, controller_port, **credentials.identity(CONTROLLER).options()
        )
    finally:
        conn_log.setLevel(level)
    try:
        response = await conn.send(_AlterUserScramCredentials(upsertions))
    finally:
        conn.close()
    for user, code, message, _tags in response.results:
        if code != 0:
            raise for_code(code)(f"cannot add the SCRAM user {user}: {message}")
