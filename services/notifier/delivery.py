"""Telling each recipient once: notifications created, attempted, recorded, retried.

For one cause, every (recipient, channel) becomes a notification document in one bulk
insert under the cause's key; its id is derived from the cause, the recipient and the
channel, so a redelivered cause finds them created. An attempt calls the channel, then
records its result with a compare-and-set on the attempt count, under a key of its own.
A crash between the call and the record leaves the notification waiting for that very
attempt: the same message delivered again (the cause, or the timer) calls the channel
again with the same idempotency key, which a gateway that honours it answers without
sending twice; two handlers of one attempt at once (a rebalance) do the same, and only
one result is recorded. The log channel, which cannot fail, is written and recorded with
the notification itself. The first attempt is made at once; retries and messages held
back by quiet hours are durable timers, so the consumer never waits out a backoff. A
channel that just failed is not tried inline again until its backoff has passed: new
messages for it go straight to a timer, so a dead gateway costs the consumer one
time-out, not one per message.

Only a valid phone number or a single e-mail address is ever sent to: anything else (a
comma adding a second recipient, a line break) is a permanent failure, logged and stated
as `notification_failed`, never retried. A first attempt on a phone or an address asks
that address's quota for a slot (one document per address, one compare-and-set, written
before the channel is called): past the hourly limit the notification is held, and a
timer sends one summary when a slot frees. Every time here is the notifier's own clock.
"""

import asyncio
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from typing import Any

import structlog

from services.notifier import domain
from services.notifier.channels import Outgoing, Sender, masked
from services.notifier.domain import (
    Cause,
    Delivered,
    Failed,
    NoContact,
    RateLimit,
    RetryPolicy,
)
from services.notifier.messages import (
    Channel,
    DeliveryDue,
    Language,
    MaybeRecipient,
    SummaryDue,
)
from services.notifier.rules import Intent, normalise_email, normalise_phone, speaks_for
from services.notifier.state import FINAL, Contact, NotificationState
from services.notifier.store import NotifierStore, directory_key, quota_id
from services.notifier.templates import cleaned, render, sms_segments
from shared import Change, Context, Fact, stable_id

log = structlog.get_logger("station.notifier.delivery")
# the channels that reach a person's phone or mailbox, and so count towards their limit
LIMITED: frozenset[Channel] = frozenset({"sms", "email"})
# namespace of the summaries' ids (uuid5 of the quota and the summary's number)
SUMMARIES = uuid.UUID("6d1f4c1e-2b7a-5c43-9a57-0e3f1b8d2c64")


@dataclass(frozen=True)
class DeliveryRules:
    """The settings delivery follows (see NotifierSettings)."""

    channels: Sequence[Channel]
    policy: RetryPolicy
    quiet_start: time
    quiet_end: time
    quiet_kinds: frozenset[str]
    zone: tzinfo
    default_language: Language
    languages: Mapping[str, Language]
    signature_zh: str
    signature_en: str
    limit: RateLimit


async def _together(jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run jobs at once (one cause's notifications); the first failure is raised as
    itself, not as a group, so an outage is still recognised and retried as one."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


def timer_id(notification_id: str, attempt: int) -> str:
    return f"deliver:{notification_id}:{attempt}"


def summary_timer_id(quota: str, summaries: int, at: datetime) -> str:
    return f"summary:{quota}:{summaries}:{at.isoformat()}"


def valid_address(channel: Channel, address: str) -> str:
    """The phone number or e-mail address a channel may be given, normalised; ValueError
    for anything else (never retried: it will not become valid)."""
    if channel == "sms":
        return normalise_phone(address)
    if channel == "email":
        return normalise_email(address)
    return address


@dataclass
class Delivery:
    """Creates, attempts and retries notifications on the configured channels."""

    store: NotifierStore
    senders: Mapping[Channel, Sender]
    rules: DeliveryRules
    # a channel that failed is not tried inline until then (per process, not stored)
    failing_until: dict[Channel, datetime] = field(default_factory=dict)

    async def notify(self, ctx: Context, intents: Sequence[Intent]) -> None:
        """Tell every recipient of a cause on every channel, once."""
        now = ctx.now()
        cause = Cause(ctx.event.id, ctx.event.type)
        known = await self.store.recipients(
            directory_key(i.kind, i.recipient_id)
            for i in intents
            if i.recipient_id and i.kind != "desk"  # desks are settings, not in the directory
        )
        created: list[tuple[str, NotificationState, Sequence[Fact]]] = []
        for intent in intents:
            recipient = MaybeRecipient(kind=intent.kind, id=intent.recipient_id)
            if intent.recipient_id is None:
                nid = ctx.derive(f"notify:{intent.kind}:missing:{intent.slot}")
                new = self._new(nid, cause=cause, intent=intent, recipient=recipient, now=now)
                created.append((nid, *new))
                continue
            entry = known.get(directory_key(intent.kind, intent.recipient_id))
            directory = entry.contact if entry else None
            # a contact the cause names counts only from the service owning that recipient
            said = intent.contact
            if said is not None and intent.kind != "desk":
                owner = speaks_for(
                    intent.kind, source=ctx.event.source, event_type=cause.cause_type
                )
                said = said if owner else None
            contact = said.over(directory) if said else directory
            for channel in self.rules.channels:
                nid = ctx.derive(f"notify:{intent.kind}:{intent.recipient_id}:{channel}")
                new = self._new(
                    nid,
                    cause=cause,
                    intent=intent,
                    recipient=recipient,
                    channel=channel,
                    contact=contact,
                    now=now,
                )
                if channel == "log":
                    new = await self._logged(*new, contact, now)
                created.append((nid, *new))
        applied = await self.store.notifications.create_many(ctx, created)
        await _together([self._advance(ctx, one.state) for one in applied if one.state])

    async def _logged(
        self,
        state: NotificationState,
        facts: list[Fact],
        contact: Contact | None,
        now: datetime,
    ) -> tuple[NotificationState, list[Fact]]:
        """A log notification due now is written before it is stored, and stored as sent
        (at least once: a redelivered cause may write the line again, with the same id)."""
        if state.status != "pending" or state.delayed_until is not None:
            return state, facts
        message = self._message(state, contact)
        result = self._refused(state, contact) or await self._send(state, message, contact, now)
        done = domain.recorded(
            state,
            attempt=1,
            message=message,
            contact=contact,
            result=result,
            policy=self.rules.policy,
            now=now,
        )
        if done is None or not isinstance(result, Delivered):
            return state, facts
        return done.state, [*facts, *done.facts]

    def _new(
        self,
        nid: str,
        *,
        cause: Cause,
        intent: Intent,
        recipient: MaybeRecipient,
        now: datetime,
        channel: Channel | None = None,
        contact: Contact | None = None,
    ) -> tuple[NotificationState, list[Fact]]:
        quiet = None
        if not intent.urgent and intent.kind in self.rules.quiet_kinds:
            quiet = domain.quiet_until(
                now, start=self.rules.quiet_start, end=self.rules.quiet_end, zone=self.rules.zone
            )
        return domain.created(
            notification_id=nid,
            cause=cause,
            recipient=recipient,
            channel=channel,
            template=intent.template,
            params=cleaned(intent.params),
            urgent=intent.urgent,
            contact=contact,
            now=now,
            delayed_until=quiet,
        )

    async def _advance(self, ctx: Context, state: NotificationState) -> None:
        """What the cause does with one of its notifications as it stands now."""
        nid, channel = state.notification_id, state.channel
        if state.status in FINAL and state.attempts > 0 and channel != "log":
            # finished by this cause's attempt before a crash: what it stated is published
            # again now (a finished attempt of a timer is the relay's to publish)
            actx = ctx.step(f"attempt:{nid}:{state.attempts}").step("result")
            await self.store.notifications.apply(nid, actx, lambda _s: None)
            return
        if state.status != "pending" or channel is None:
            return
        if state.attempts > 0 and state.next_attempt_at is not None:
            await self._schedule(ctx, nid, state.attempts + 1, state.next_attempt_at)
        elif state.delayed_until is not None:
            await self._schedule(ctx, nid, 1, state.delayed_until)
        elif (until := self.failing_until.get(channel)) is not None and until > ctx.now():
            await self._schedule(ctx, nid, 1, until)
        else:
            await self._attempt(ctx.step(f"attempt:{nid}:1"), 1, nid, state)

    async def delivery_due(self, due: DeliveryDue, ctx: Context) -> None:
        """A retry, or the end of quiet hours: the attempt it is for, if still wanted."""
        await self._attempt(ctx.step("attempt"), due.attempt, due.notification_id)

    async def summary_due(self, due: SummaryDue, ctx: Context) -> None:
        """A slot may be free for an address with messages held: one summary of them,
        created and sent once, whichever timer or replica grants it; else the timer again
        when the next slot frees."""
        now, limit, qid = ctx.now(), self.rules.limit, due.quota_id
        quota = await self.store.quotas.load(qid)
        if quota is not None and quota.held:
            # the summary's id is its place in the address's sequence, not this timer's
            summary_id = stable_id(SUMMARIES, f"{qid}#{quota.summaries}")
            applied = await self.store.quotas.apply(
                qid,
                ctx.step("summary", at_once=True),
                lambda q: domain.summarised(q, summary_id=summary_id, limit=limit, now=now),
            )
            quota = applied.state
            if quota is not None and quota.held:  # no slot yet (another message took it)
                at = limit.free_at(quota, now)
                await ctx.schedule(
                    summary_timer_id(qid, quota.summaries, at), SummaryDue(quota_id=qid), at=at
                )
                return
        # the last summary granted, created if a crash (or another replica) left it not
        summary = quota.last_summary if quota is not None else None
        if quota is None or summary is None:
            return
        recipient = summary.recipient
        quiet = None
        if recipient.kind in self.rules.quiet_kinds:  # its slot is taken now, its words wait
            quiet = domain.quiet_until(
                now, start=self.rules.quiet_start, end=self.rules.quiet_end, zone=self.rules.zone
            )
        new, facts = domain.created(
            notification_id=summary.notification_id,
            cause=Cause(ctx.event.id, ctx.event.type),
            recipient=MaybeRecipient(kind=recipient.kind, id=recipient.id),
            channel=quota.channel,
            template="held_summary",
            params={"count": summary.held},
            urgent=False,
            contact=summary.contact,
            now=now,
            delayed_until=quiet,
        )
        created = await self.store.notifications.apply(
            summary.notification_id,
            ctx.step("summary-created"),
            lambda s: Change(new, facts) if s is None else None,
        )
        if created.state is not None and created.state.attempts == 0:
            await self._advance(ctx.step("summary-sent"), created.state)

    async def _admitted(
        self, actx: Context, state: NotificationState, contact: Contact, address: str
    ) -> bool:
        """Whether the address may be sent this notification now; if not, it is held
        (stated) and the summary's timer set."""
        channel = state.channel
        if channel not in LIMITED or state.template == "held_summary":
            return True
        now, limit, nid = actx.now(), self.rules.limit, state.notification_id
        qid = quota_id(channel, address)
        applied = await self.store.quotas.apply(
            qid,
            actx.step("quota", at_once=True),
            lambda q: domain.admitted(
                q, notification=state, contact=contact, channel=channel, limit=limit, now=now
            ),
        )
        quota = applied.state
        if quota is None or domain.granted(quota, nid):
            return True
        summary_at = limit.free_at(quota, now)
        await self.store.notifications.apply(
            nid,
            actx.step("held"),
            lambda s: domain.held(s, count=quota.held, summary_at=summary_at, now=now),
        )
        await actx.schedule(
            summary_timer_id(qid, quota.summaries, summary_at),
            SummaryDue(quota_id=qid),
            at=summary_at,
        )
        log.info(
            "notification_held",
            notification_id=nid,
            channel=channel,
            recipient_kind=state.recipient.kind,
            recipient_id=state.recipient.id,
            held=quota.held,
            summary_at=summary_at.isoformat(),
        )
        return False

    async def _schedule(self, ctx: Context, nid: str, attempt: int, at: datetime) -> None:
        await ctx.schedule(
            timer_id(nid, attempt), DeliveryDue(notification_id=nid, attempt=attempt), at=at
        )

    async def _attempt(
        self, actx: Context, attempt: int, nid: str, known: NotificationState | None = None
    ) -> None:
        """Attempt `attempt` if the notification waits for it: call the channel, record
        the result, and schedule the next attempt if there is one. `known` is the
        notification as the caller just read it (saves a read)."""
        state = known or await self.store.notifications.load(nid)
        if state is None or state.status != "pending" or state.attempts != attempt - 1:
            return
        contact = state.contact or await self._lookup(state)
        message = self._message(state, contact)
        refused = self._refused(state, contact)
        if refused is None and attempt == 1 and contact is not None and state.channel is not None:
            address = valid_address(state.channel, contact.address(state.channel) or "")
            if not await self._admitted(actx, state, contact, address):
                return
        result = refused or await self._send(state, message, contact, actx.now())
        outcome = await self.store.notifications.apply(
            nid,
            actx.step("result"),
            lambda s: domain.recorded(
                s,
                attempt=attempt,
                message=message,
                contact=contact,
                result=result,
                policy=self.rules.policy,
                now=actx.now(),
            ),
        )
        after = outcome.state
        if after is not None and after.status == "pending" and after.next_attempt_at is not None:
            await self._schedule(actx, nid, after.attempts + 1, after.next_attempt_at)

    async def _lookup(self, state: NotificationState) -> Contact | None:
        if state.recipient.id is None:
            return None
        key = directory_key(state.recipient.kind, state.recipient.id)
        entry = await self.store.directory.load(key)
        return entry.contact if entry else None

    def _message(self, state: NotificationState, contact: Contact | None) -> domain.Message:
        """The words of the first attempt, or those it fixed."""
        if state.text is not None and state.language is not None:
            return domain.Message(
                state.language, state.title or state.template, state.text, state.segments
            )
        language = self._language(state, contact)
        title, text = render(
            state.template,
            state.params,
            language,
            signature_zh=self.rules.signature_zh,
            signature_en=self.rules.signature_en,
        )
        return domain.Message(language, title, text, sms_segments(text))

    def _language(self, state: NotificationState, contact: Contact | None) -> Language:
        if state.language is not None:
            return state.language
        configured = None
        if state.recipient.id is not None:
            configured = self.rules.languages.get(
                directory_key(state.recipient.kind, state.recipient.id)
            )
        return configured or (contact.language if contact else None) or self.rules.default_language

    def _refused(self, state: NotificationState, contact: Contact | None) -> domain.Result | None:
        """Why this notification cannot be sent to anyone at all, if it cannot: no such
        recipient, no phone or address, or one that is not a valid phone number or a
        single e-mail address (a permanent failure, logged)."""
        channel = state.channel
        if channel is None:
            raise ValueError(f"{state.notification_id} has no channel")
        if contact is None and channel != "log":
            return domain.UnknownRecipient(
                f"{state.recipient.kind} {state.recipient.id} is not in the directory"
            )
        address = (contact or Contact()).address(channel)
        if address is None:
            what = "phone" if channel == "sms" else "e-mail address"
            return NoContact(f"{state.recipient.kind} {state.recipient.id} has no {what}")
        try:
            valid_address(channel, address)
        except ValueError as exc:
            what = "phone number" if channel == "sms" else "e-mail address"
            log.warning(
                "notification_refused",
                notification_id=state.notification_id,
                channel=channel,
                recipient_kind=state.recipient.kind,
                recipient_id=state.recipient.id,
                address=masked(address),
                reason=f"invalid {what}",
            )
            return Failed(f"invalid {what}: {str(exc)[:160]}", permanent=True)
        return None

    async def _send(
        self,
        state: NotificationState,
        words: domain.Message,
        contact: Contact | None,
        now: datetime,
    ) -> domain.Result:
        """Call the channel (`_refused` said it may be called)."""
        channel = state.channel
        if channel is None:
            raise ValueError(f"{state.notification_id} has no channel")
        address = valid_address(channel, (contact or Contact()).address(channel) or "")
        message = Outgoing(
            notification_id=state.notification_id,
            channel=channel,
            address=address,
            name=contact.name if contact else state.recipient.id,
            title=words.title,
            text=words.text,
            segments=words.segments,
            template=state.template,
            language=words.language,
        )
        try:
            result = await self.senders[channel].send(message)
        except Exception as exc:  # noqa: BLE001 - a channel's own bug is a failed attempt
            result = Failed(f"{type(exc).__name__}: {exc}"[:300])
        if isinstance(result, Delivered):
            self.failing_until.pop(channel, None)
        elif not result.permanent:
            self.failing_until[channel] = now + self.rules.policy.backoff(1)
        return result
