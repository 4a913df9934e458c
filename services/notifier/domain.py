"""Rules of one notification's life, of quiet hours, retries and the hourly limit (pure).

A notification is created pending (or skipped, when its recipient cannot be reached on
its channel); its first attempt on a phone or an address is let through only if that
address has had fewer than the limit of messages within the hour, else it is held and
counted, and one summary follows when a slot is free; each attempt ends with one
recorded result: sent, failed for good, retried later with capped exponential backoff,
or skipped. No Kafka, MongoDB, clock or I/O: times come in as arguments (the notifier's
own clock, never a fact's `time`).
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from services.notifier import messages as m
from services.notifier.state import (
    Contact,
    Grant,
    NotificationState,
    ParamValue,
    RecipientQuota,
    Summary,
)
from shared import Change, Fact


@dataclass(frozen=True)
class Cause:
    """The fact a notification is about: its CloudEvents id and type."""

    cause_id: str
    cause_type: str


@dataclass(frozen=True)
class Delivered:
    """The channel took the message."""


@dataclass(frozen=True)
class Failed:
    """The channel did not take it: `permanent` when trying again cannot help."""

    error: str
    permanent: bool = False


@dataclass(frozen=True)
class NoContact:
    """The recipient has no phone or address for this channel: skipped, never retried."""

    detail: str


@dataclass(frozen=True)
class UnknownRecipient:
    """The directory has not learned of the recipient (yet): retried like a failure, then
    skipped."""

    detail: str


Result = Delivered | Failed | NoContact | UnknownRecipient


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    initial: timedelta
    cap: timedelta

    def backoff(self, failed_attempts: int) -> timedelta:
        """The wait after the n-th failed attempt: initial, 2x, 4x … at most the cap."""
        wait: timedelta = self.initial * float(2 ** max(0, failed_attempts - 1))
        return min(self.cap, wait)


def quiet_until(now: datetime, *, start: time, end: time, zone: tzinfo) -> datetime | None:
    """The end of the quiet hours `now` falls in (local time in `zone`), or None.

    Quiet hours may span midnight (22:00-07:00, the default); start == end means none."""
    if start == end:
        return None
    local = now.astimezone(zone)
    at = local.timetz().replace(tzinfo=None)
    spans_midnight = start > end
    inside = (at >= start or at < end) if spans_midnight else (start <= at < end)
    if not inside:
        return None
    day = local.date()
    if spans_midnight and at >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


@dataclass(frozen=True)
class RateLimit:
    """At most `per_window` messages to one address within any `window` (an hour)."""

    per_window: int
    window: timedelta

    def recent(self, quota: RecipientQuota, now: datetime) -> list[Grant]:
        return [g for g in quota.granted if g.at > now - self.window]

    def free_at(self, quota: RecipientQuota, now: datetime) -> datetime:
        """When the address may be sent its next message: now, or when the oldest of the
        last `per_window` grants leaves the window."""
        recent = self.recent(quota, now)
        if len(recent) < self.per_window:
            return now
        return recent[-self.per_window].at + self.window


def granted(quota: RecipientQuota | None, notification_id: str) -> bool:
    return quota is not None and any(g.notification_id == notification_id for g in quota.granted)


def admitted(
    quota: RecipientQuota | None,
    *,
    notification: NotificationState,
    contact: Contact,
    channel: m.Channel,
    limit: RateLimit,
    now: datetime,
) -> Change[RecipientQuota] | None:
    """A notification's first attempt asks its address for a slot: granted while the
    address has had fewer than the limit within the window and nothing is held for it;
    else held (counted; the first held one names whom the summary is for)."""
    if granted(quota, notification.notification_id):
        return None
    quota = quota or RecipientQuota(channel=channel)
    if quota.held == 0 and len(limit.recent(quota, now)) < limit.per_window:
        grants = [*quota.granted, Grant(notification_id=notification.notification_id, at=now)]
        return Change(quota.model_copy(update={"granted": grants[-limit.per_window :]}))
    update: dict[str, object] = {"held": quota.held + 1, "held_total": quota.held_total + 1}
    if quota.held == 0:
        update |= {"recipient": _recipient(notification), "contact": contact}
    return Change(quota.model_copy(update=update))


def held(
    state: NotificationState | None, *, count: int, summary_at: datetime, now: datetime
) -> Change[NotificationState] | None:
    """A notification held by the hourly limit: final, stated, never attempted."""
    if state is None or state.status != "pending" or state.attempts != 0 or state.channel is None:
        return None
    detail = f"{count} held for this recipient within the hour"
    done = state.model_copy(update={"status": "held", "detail": detail, "finished_at": now})
    fact = m.NotificationHeld(
        notification_id=state.notification_id,
        cause_id=state.cause_id,
        cause_type=state.cause_type,
        recipient=_recipient(state),
        channel=state.channel,
        template=state.template,
        held=count,
        summary_at=summary_at,
    )
    return Change(done, [fact])


def summarised(
    quota: RecipientQuota | None, *, summary_id: str, limit: RateLimit, now: datetime
) -> Change[RecipientQuota] | None:
    """The summary of what is held takes the next free slot (None: nothing held, or no
    slot free yet)."""
    if quota is None or quota.held == 0 or quota.recipient is None or quota.contact is None:
        return None
    if len(limit.recent(quota, now)) >= limit.per_window:
        return None
    summary = Summary(
        notification_id=summary_id,
        held=quota.held,
        recipient=quota.recipient,
        contact=quota.contact,
    )
    grants = [*quota.granted, Grant(notification_id=summary_id, at=now)]
    return Change(
        quota.model_copy(
            update={
                "granted": grants[-limit.per_window :],
                "held": 0,
                "summaries": quota.summaries + 1,
                "last_summary": summary,
                "recipient": None,
                "contact": None,
            }
        )
    )


def _recipient(state: NotificationState) -> m.Recipient:
    if state.recipient.id is None or state.channel is None:
        raise ValueError(f"{state.notification_id} has no recipient id or channel")
    return m.Recipient(kind=state.recipient.kind, id=state.recipient.id)


def _skipped(state: NotificationState, reason: m.SkipReason, detail: str) -> m.NotificationSkipped:
    return m.NotificationSkipped(
        notification_id=state.notification_id,
        cause_id=state.cause_id,
        cause_type=state.cause_type,
        recipient=state.recipient,
        channel=state.channel,
        template=state.template,
        reason=reason,
        detail=detail,
    )


def created(
    *,
    notification_id: str,
    cause: Cause,
    recipient: m.MaybeRecipient,
    channel: m.Channel | None,
    template: m.Template,
    params: dict[str, ParamValue],
    urgent: bool,
    contact: Contact | None,
    now: datetime,
    delayed_until: datetime | None = None,
) -> tuple[NotificationState, list[Fact]]:
    """A new notification: skipped if the cause named no recipient or the recipient has
    no contact for the channel; held back to `delayed_until` (quiet hours); else pending."""
    state = NotificationState(
        notification_id=notification_id,
        cause_id=cause.cause_id,
        cause_type=cause.cause_type,
        recipient=recipient,
        channel=channel,
        template=template,
        params=params,
        urgent=urgent,
        contact=contact,
        created_at=now,
    )
    if recipient.id is None or channel is None:
        detail = f"{cause.cause_type} names no {recipient.kind} id"
        return _finish_skipped(state, "missing_recipient_id", detail, now)
    if contact is not None and contact.address(channel) is None:
        what = "phone" if channel == "sms" else "e-mail address"
        detail = f"{recipient.kind} {recipient.id} has no {what}"
        return _finish_skipped(state, "no_contact", detail, now)
    if delayed_until is not None:
        delayed = state.model_copy(update={"delayed_until": delayed_until})
        fact = m.NotificationDelayed(
            notification_id=notification_id,
            cause_id=cause.cause_id,
            cause_type=cause.cause_type,
            recipient=_recipient(state),
            channel=channel,
            template=template,
            until=delayed_until,
        )
        return delayed, [fact]
    return state, []


def _finish_skipped(
    state: NotificationState, reason: m.SkipReason, detail: str, now: datetime
) -> tuple[NotificationState, list[Fact]]:
    done = state.model_copy(
        update={"status": "skipped", "skip_reason": reason, "detail": detail, "finished_at": now}
    )
    return done, [_skipped(done, reason, detail)]


@dataclass(frozen=True)
class Message:
    """The words of a notification for its recipient (fixed by its first attempt)."""

    language: m.Language
    title: str
    text: str
    segments: int


def recorded(
    state: NotificationState | None,
    *,
    attempt: int,
    message: Message,
    contact: Contact | None,
    result: Result,
    policy: RetryPolicy,
    now: datetime,
) -> Change[NotificationState] | None:
    """The result of attempt `attempt`, if the notification was waiting for exactly it
    (a compare-and-set on the attempts: a second handler of the same attempt changes
    nothing). The first attempt fixes the words every later one sends."""
    if state is None or state.status != "pending" or state.attempts != attempt - 1:
        return None
    update: dict[str, object] = {
        "attempts": attempt,
        "next_attempt_at": None,
        "contact": contact if contact is not None else state.contact,
    }
    if state.text is None:
        update |= {
            "language": message.language,
            "title": message.title,
            "text": message.text,
            "segments": message.segments,
        }
    state = state.model_copy(update=update)
    if isinstance(result, Delivered):
        done = state.model_copy(update={"status": "sent", "error": None, "finished_at": now})
        count = done.params.get("count") if done.template == "held_summary" else 0
        sent = m.NotificationSent.model_validate(
            {**_notification(done), "segments": done.segments, "summarised": count or 0}
        )
        return Change(done, [sent])
    if isinstance(result, NoContact):
        return Change(*_finish_skipped(state, "no_contact", result.detail, now))
    error = result.detail if isinstance(result, UnknownRecipient) else result.error
    permanent = isinstance(result, Failed) and result.permanent
    if not permanent and state.attempts < policy.max_attempts:
        again = state.model_copy(
            update={
                "status": "pending",
                "error": error,
                "retries": state.retries + 1,
                "next_attempt_at": now + policy.backoff(state.attempts),
            }
        )
        return Change(again)
    if isinstance(result, UnknownRecipient):
        return Change(*_finish_skipped(state, "unknown_recipient", result.detail, now))
    failed = state.model_copy(update={"status": "failed", "error": error, "finished_at": now})
    told = m.NotificationFailed.model_validate({**_notification(failed), "error": error})
    return Change(failed, [told])


def _notification(state: NotificationState) -> dict[str, object]:
    """The fields `notification_sent` and `notification_failed` share."""
    if state.channel is None or state.language is None:
        raise ValueError(f"{state.notification_id} was never attempted")
    return {
        "notification_id": state.notification_id,
        "cause_id": state.cause_id,
        "cause_type": state.cause_type,
        "recipient": _recipient(state),
        "channel": state.channel,
        "template": state.template,
        "language": state.language,
        "attempts": state.attempts,
    }
