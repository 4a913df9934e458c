"""Which failures are outages (retry for as long as they last) and which are the message's.

An outage of MongoDB or Kafka is never the message's fault: the record is not committed
and is retried with backoff, never dead-lettered. What counts as an outage depends on
the server: FerretDB answers "internal error" (code 1) while its backend restarts, which
from MongoDB would be a real error; both answer auth failures while credentials are
being rotated or a user is being created, which is an outage of access, not a bad
message.
"""

from dataclasses import dataclass
from typing import Final, Literal

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

Server = Literal["mongodb", "ferretdb"]

# MongoDB error codes that mean "the server or the network is away", not "your request"
_OUTAGE_CODES: Final = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        13,  # Unauthorized
        18,  # AuthenticationFailed
        50,  # MaxTimeMSExpired
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
    }
)
_FERRETDB_OUTAGE_CODES: Final = frozenset({1})  # InternalError while its backend restarts


@dataclass(frozen=True)
class Failures:
    """Classifies exceptions for one kind of MongoDB-compatible server."""

    server: Server = "mongodb"

    def transient(self, exc: BaseException) -> bool:
        """An outage of the infrastructure: retry, never dead-letter."""
        if isinstance(
            exc,
            ConnectionFailure
            | KafkaConnectionError
            | KafkaTimeoutError
            | TimeoutError
            | ConnectionError,
        ):
            return True
        if isinstance(exc, KafkaError):
            return bool(getattr(exc, "retriable", False))
        if isinstance(exc, PyMongoError) and (
            exc.timeout or exc.has_error_label("RetryableWriteError")
        ):
            return True
        if isinstance(exc, OperationFailure):
            codes = _OUTAGE_CODES | (_FERRETDB_OUTAGE_CODES if self.server == "ferretdb" else set())
            return exc.code in codes
        return False


def server_of(build_info: dict[str, object]) -> Server:
    """FerretDB says so in `buildInfo`; anything else is treated as MongoDB."""
    return "ferretdb" if "ferretdbVersion" in build_info else "mongodb"
