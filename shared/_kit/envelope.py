"""CloudEvents 1.0 in structured JSON mode, with the contract's `correlationid`/`causationid`.

Ids of events a service emits are derived from the cause's id and a role (uuid5), so a
replayed cause yields the same ids and downstream inboxes drop the duplicates.

Parsing is bounded (`wirejson`: size, nesting, digits, finite numbers, unique keys, no
lone surrogates) and so are the attributes (lengths, a plausible `time`, `data` an
object): whatever a record holds, `from_bytes` returns an event or raises
`NotACloudEventError` saying why, and builds nothing proportional to a hostile input.
"""

import hashlib
import uuid
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared._kit import wirejson

CONTENT_TYPE: Final = "application/cloudevents+json; charset=utf-8"
CONTENT_TYPE_HEADER: Final = "content-type"
# Fixed namespace for derived ids: the same (cause id, role) gives the same id everywhere.
_ID_NAMESPACE: Final = uuid.UUID("6f0e2a4c-93b1-5d3e-8c57-2b1f0d5a9e11")
# a service speaks as `/services/<name>`; commands come from `/intake/<who>` (the contract)
SERVICE_SOURCE: Final = "/services/"
# attributes are ids, names and paths: ids senders choose are at most 64 characters
# (fields.ID_MAX), derived ids 36; room for prefixes and composed subjects, not for payloads
ID_ATTRIBUTE_MAX: Final = 256
TYPE_MAX: Final = 128
# no real event is dated outside these years, and date arithmetic near the ends of the
# calendar (a day added to 9999-12-31) overflows in every consumer that converts zones
TIME_YEARS: Final = (1970, 2999)
IdAttribute = Annotated[str, Field(min_length=1, max_length=ID_ATTRIBUTE_MAX)]


class NotACloudEventError(ValueError):
    """The bytes are not a CloudEvents 1.0 structured-mode JSON event."""


class CloudEvent(BaseModel):
    """One event or command on the wire; unknown extension attributes are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: IdAttribute
    source: IdAttribute
    type: str = Field(min_length=1, max_length=TYPE_MAX)
    subject: IdAttribute | None = None
    time: AwareDatetime | None = None
    datacontenttype: str = Field(default="application/json", max_length=TYPE_MAX)
    correlationid: IdAttribute | None = None
    causationid: IdAttribute | None = None
    data: dict[str, Any] | None = None

    @field_validator("time")
    @classmethod
    def _plausible(cls, value: AwareDatetime | None) -> AwareDatetime | None:
        first, last = TIME_YEARS
        if value is not None and not first <= value.year <= last:
            raise ValueError(f"a time in the years {first} to {last}")
        return value

    def to_bytes(self) -> bytes:
        """UTF-8 JSON, absent optional attributes left out."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CloudEvent":
        """Parse structured-mode bytes, or raise NotACloudEventError saying why."""
        try:
            payload = wirejson.loads(raw)
        except wirejson.RefusedJSONError as exc:
            raise NotACloudEventError(str(exc)) from None
        except (ValueError, RecursionError) as exc:  # what the bounds should have caught
            raise NotACloudEventError(f"not JSON: {type(exc).__name__}") from None
        if not isinstance(payload, dict):
            raise NotACloudEventError("not a JSON object")
        data = payload.get("data")
        if data is not None and not isinstance(data, dict):
            raise NotACloudEventError(f"data is a JSON {_json_kind(data)}, not an object")
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            # locations only: the values are the sender's and may be anything (or personal)
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            raise NotACloudEventError(
                f"missing or invalid CloudEvents attributes: {fields}"
            ) from None

    @property
    def key(self) -> bytes | None:
        """The Kafka key: the subject (the aggregate id), so one aggregate stays in order."""
        return self.subject.encode() if self.subject is not None else None

    @property
    def correlation(self) -> str:
        """The story this belongs to; a command without one starts its own."""
        return self.correlationid or self.id


def _json_kind(value: object) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return kinds.get(type(value), type(value).__name__)


def stable_id(namespace: uuid.UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))`, the same on every run, without building UUID
    objects: a campaign mints two ids per visit, tens of thousands at once."""
    # SHA-1 is what UUID version 5 is defined on (RFC 4122), not a security measure
    sha1 = hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False)
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derive_id(cause_id: str, role: str) -> str:
    """A deterministic id from a cause and a role ("alert", "transfer:ent-02", …)."""
    return stable_id(_ID_NAMESPACE, f"{cause_id}\x1f{role}")


def identity_key(source: str, event_id: str) -> str:
    """The idempotency key of an event: CloudEvents identity is `source` and `id` together,
    so two senders choosing the same id never shadow each other."""
    return stable_id(_ID_NAMESPACE, f"identity\x1f{source}\x1f{event_id}")


def kafka_headers() -> list[tuple[str, bytes]]:
    """Headers every structured-mode message carries."""
    return [(CONTENT_TYPE_HEADER, CONTENT_TYPE.encode())]
