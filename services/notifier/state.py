"""What the notifier stores: its directory of recipients, one document per notification,
and one per recipient's address counting what it was sent within the hour."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.notifier.messages import (
    Channel,
    Language,
    MaybeRecipient,
    Recipient,
    RecipientKind,
    SkipReason,
    Template,
)
from shared import State

ParamValue = str | int | float | list[str]
Status = Literal["pending", "sent", "failed", "skipped", "held"]
FINAL: frozenset[Status] = frozenset({"sent", "failed", "skipped", "held"})


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
    # when the notifier received the newest fact that said so (its own clock, never the
    # fact's `time`): a fact received earlier but handled later changes nothing
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

    def done_at(self) -> datetime | None:
        """When it was sent, failed, skipped or held for good: its contact, text and
        parameters expire from then on."""
        return None if self.status == "pending" else self.finished_at


class Grant(State):
    """One message let through to an address, when (the notifier's clock)."""

    notification_id: str
    at: datetime


class Summary(State):
    """The summary of held messages last let through, and whom it is for."""

    notification_id: str
    held: int
    recipient: Recipient
    contact: Contact


class RecipientQuota(State):
    """What one address (a phone on `sms`, an address on `email`) was sent within the
    hour. Its id is a digest of the channel and address (the number itself is not a key
    anyone reads); the contact is kept only while messages are held for it."""

    channel: Channel
    # the most recent grants, oldest first, at most the hourly limit of them
    granted: list[Grant] = Field(default_factory=list)
    # held since the last summary; while any are, every new message is held too, so the
    # summary takes the next free slot
    held: int = 0
    held_total: int = 0
    summaries: int = 0
    last_summary: Summary | None = None
    # whom the summary goes to: the first held message's recipient and contact
    recipient: Recipient | None = None
    contact: Contact | None = None
