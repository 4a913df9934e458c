"""The notifier's contract: the facts it states about each notification, and its timer.

It takes no commands. Each notification is one (cause, recipient, channel): the cause is
another service's fact, the recipient a person or desk, the channel `sms`, `email` or
`log`. `docs/contract.md` and `docs/asyncapi/notifier.json` are generated from here; what
it reads from the other services is modelled in `readers.py`.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared import EraseOrder, Fact, PersonErasedFact, Timer

Channel = Literal["sms", "email", "log"]
Language = Literal["zh", "en"]
# who a notification is for: a liaison officer, a configured desk (the hazardous-chemicals
# brigade, the station duty desk), an enterprise's contact, a mediator, a volunteer, or
# the family member who asked for a home service
RecipientKind = Literal["officer", "desk", "enterprise", "mediator", "volunteer", "requester"]
Template = Literal[
    "over_capacity_officer",
    "over_capacity_brigade",
    "transfer_proposed",
    "redistribution_escalated",
    "mediator_assigned",
    "session_overdue",
    "case_escalated",
    "visit_assigned",
    "coverage_gap",
    "home_service_scheduled",
    # one message in place of those held back by the per-recipient hourly limit
    "held_summary",
]
SkipReason = Literal["missing_recipient_id", "no_contact", "unknown_recipient"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Recipient(_Part):
    kind: RecipientKind
    id: str


class MaybeRecipient(_Part):
    """A recipient as the cause named it: its id may be missing (bad input upstream)."""

    kind: RecipientKind
    id: str | None


class _About(_Part):
    """What every fact about one notification to a known recipient on a channel says."""

    notification_id: str
    # the CloudEvents id and type of the fact that caused it
    cause_id: str
    cause_type: str
    recipient: Recipient
    channel: Channel
    template: Template


class _Notification(_About):
    language: Language


class NotificationSent(
    _Notification, Fact, type="notifier.notification_sent", subject="notification_id"
):
    """The channel accepted the message (the SMS gateway, the SMTP server, or the log).

    `attempts` and `segments` (SMS parts of 70 Chinese or 160 Latin characters) are
    additions to the contract."""

    attempts: int
    segments: int
    # a `held_summary`: how many held notifications it stands for
    summarised: int = 0


class NotificationFailed(
    _Notification, Fact, type="notifier.notification_failed", subject="notification_id"
):
    """The channel refused the message for good, or kept failing for the configured
    number of attempts (retried with capped exponential backoff)."""

    error: str
    attempts: int


class NotificationSkipped(Fact, type="notifier.notification_skipped", subject="notification_id"):
    """Nothing was sent, on purpose, and never will be (an addition to the contract):
    the cause named no recipient id (`missing_recipient_id`; `channel` is then null), the
    recipient has no phone or address for the channel (`no_contact`), or the directory
    never learned of the recipient (`unknown_recipient`)."""

    notification_id: str
    cause_id: str
    cause_type: str
    recipient: MaybeRecipient
    channel: Channel | None
    template: Template
    reason: SkipReason
    detail: str


class NotificationDelayed(
    _About, Fact, type="notifier.notification_delayed", subject="notification_id"
):
    """A non-urgent message to a volunteer or an enterprise held back by quiet hours
    until `until` (an addition to the contract); `notification_sent` follows."""

    until: datetime


class NotificationHeld(_About, Fact, type="notifier.notification_held", subject="notification_id"):
    """Not sent on its own: its recipient was already sent the configured number of
    messages within the hour (an addition to the contract). It is stored and counted, and
    one `held_summary` notification, due at `summary_at`, tells the recipient how many
    were held (its `notification_sent` has `summarised`)."""

    # messages held for this recipient since their last summary, this one included
    held: int
    summary_at: datetime


# -- on notifier.intake, and what it states of it ------------------------------


class ErasePerson(EraseOrder, type="notifier.erase_person", subject="erasure_id"):
    """Erase a resident (PIPL): every record naming their phone or ID number is anonymised,
    and so is every copy of their name found there (`station erase`)."""


class PersonErased(PersonErasedFact, type="notifier.person_erased", subject="erasure_id"):
    """A resident was erased from the notifier service's database: how many records changed."""


# -- timers -----------------------------------------------------------------------------


class DeliveryDue(Timer, type="notifier.delivery_due", subject="notification_id"):
    """Time for attempt `attempt` of a notification: a retry, or the end of quiet hours."""

    notification_id: str
    attempt: int


class SummaryDue(Timer, type="notifier.summary_due", subject="quota_id"):
    """Time to tell a recipient how many messages were held for them, if a slot is free."""

    quota_id: str
