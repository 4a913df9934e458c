"""What the notifier stores: its directory of recipients and one document per notification."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.notifier.messages import (
    Channel,
    Language,
    MaybeRecipient,
    RecipientKind,
    SkipReason,
    Template,
)
from shared import State

ParamValue = str | int | float | list[str]
Status = Literal["pending", "sent", "failed", "skipped"]
FINAL: frozenset[Status] = frozenset({"sent", "failed", "skipped"})


class Contact(State):
    """How to reach someone: whatever a fact or a desk's settings said."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: Language | None = None

    def address(self, channel: Channel) -> str | None:
        """The phone or e-mail address a channel needs (the log needs none)."""
        if channel == "sms":
            return self.phone or None
        if channel == "email":
            return self.email or None
        return self.name or "-"

    def over(self, older: "Contact | None") -> "Contact":
        """This contact, its gaps filled from an older one."""
        if older is None:
            return self
        return Contact(
            name=self.name or older.name,
            phone=self.phone or older.phone,
            email=self.email or older.email,
            language=self.language or older.language,
        )


class DirectoryEntry(State):
    """A recipient as learned from the other services' facts (`<kind>:<id>`)."""

    kind: RecipientKind
    id: str
    contact: Contact
    # the time of the newest fact that said so: an older fact read later changes nothing
    as_of: datetime | None = None
    learned_from: str


class NotificationState(State):
    """One (cause, recipient, channel): created once, attempted until sent, failed or skipped."""

    notification_id: str
    cause_id: str
    cause_type: str
    recipient: MaybeRecipient
    channel: Channel | None
    template: Template
    params: dict[str, ParamValue] = Field(default_factory=dict)
    urgent: bool
    # what the cause (or the desk's settings) said; None: ask the directory when sending
    contact: Contact | None = None
    status: Status = "pending"
    attempts: int = 0
    retries: int = 0
    delayed_until: datetime | None = None
    next_attempt_at: datetime | None = None
    # fixed when the first attempt starts, so a resent attempt sends the same message
    language: Language | None = None
    title: str | None = None
    text: str | None = None
    segments: int = 0
    error: str | None = None
    skip_reason: SkipReason | None = None
    detail: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
