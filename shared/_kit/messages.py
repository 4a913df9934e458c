"""Commands, facts and timers: pydantic models that carry their own CloudEvents type.

    class DeclareInventory(Command, type="enterprise.declare_inventory", subject="enterprise_id"):
        enterprise_id: str
        ...

`type` is the CloudEvents `type` on the wire; `subject` names the field whose value is
the event's subject (and so its Kafka key). A service handles a message by annotating a
handler's first parameter with its class; it emits a fact by returning an instance in a
`Change`. Another service reading that fact declares a model of its own with the same
`type` and only the fields it reads (tolerant reader), checked against the producer's
published schema by the contract tests; one that reads personal fields (`personal.py`)
says `private=True` and is given the producer's `<service>.private` topic.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from shared._kit.personal import register


class Message(BaseModel):
    """Base of every command, fact and timer payload (the CloudEvent's `data`)."""

    # unknown fields are ignored (the contract may add fields); numbers must be finite
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    type: ClassVar[str] = ""
    subject_field: ClassVar[str | None] = None
    # a reader of another service's fact that needs its personal fields
    reads_private: ClassVar[bool] = False

    def __init_subclass__(
        cls,
        *,
        type: str | None = None,
        subject: str | None = None,
        private: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if type is not None:
            if type.count(".") != 1 or not all(type.split(".")):
                raise TypeError(f"{cls.__name__}: type must be '<service>.<name>', got {type!r}")
            cls.type = type
        if subject is not None:
            cls.subject_field = subject
        if private is not None:
            cls.reads_private = private

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.subject_field is not None and cls.subject_field not in cls.model_fields:
            raise TypeError(f"{cls.__name__}: subject field {cls.subject_field!r} is not a field")
        if cls.type and issubclass(cls, Fact) and not cls.reads_private:
            register(cls.type, cls)

    @classmethod
    def prefix(cls) -> str:
        """The service whose contract defines this message (`enterprise` of `enterprise.x`)."""
        return cls.type.split(".", 1)[0]

    def subject_value(self) -> str | None:
        """The aggregate this message is about, from its subject field (None if it has none)."""
        if self.subject_field is None:
            return None
        return str(getattr(self, self.subject_field))


class Command(Message):
    """An order (imperative name), read by its service from `<service>.intake`."""


class Fact(Message):
    """Something that happened (past tense), published on `<service>.events`."""


class Timer(Message):
    """The payload of a durable timer, delivered to its handler when it is due."""


class State(BaseModel):
    """Base of an aggregate's stored state: typed, immutable, numbers finite.

    Fields a later version drops are ignored when an older document is read.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Reason:
    """A machine-readable reason for refusing a command, with what it means.

    A service declares its reasons as constants in its contract module, where the
    contract documents find them: `UNKNOWN_CAS = Reason("unknown_cas", "…")`.
    """

    code: str
    meaning: str


class Rejected(Exception):  # noqa: N818 - a refusal, not an error of the service
    """A command breaks a business rule: nothing changes and the sender is told why.

    Raised by domain code; the platform turns it into `<service>.command_rejected`.
    """

    def __init__(self, reason: Reason | str, *errors: str) -> None:
        code = reason.code if isinstance(reason, Reason) else reason
        super().__init__(code)
        self.reason = code
        self.errors = list(errors)


class CommandRejected(BaseModel):
    """`<service>.command_rejected`: a command that parsed as a CloudEvent but was refused."""

    command_id: str
    command_type: str
    reason: str
    errors: list[str]


class TimerFailed(BaseModel):
    """`<service>.timer_failed`: a timer whose handler kept failing; an operator must look."""

    timer_id: str
    timer_type: str
    subject: str | None
    error: str
    attempts: int
