"""The directory of recipients, learned only from the facts of the service that owns them.

Enterprises' contacts and liaison officers from `enterprise_registered` (and officers
again from each alert), volunteers from `volunteer_registered`, mediators from
`mediator_registered` (and `mediator_assigned`), requesters from home-service events.
A fact from any other source (`rules.OWNERS`) changes no entry: an outreach fact naming
a mediator's phone does not make it the mediator's. The desks come from the settings.
The notifier never reads another service's database. Which fact is newer is decided by
when the notifier received it (its clock), never by the fact's own `time`: a fact dated
in the future would otherwise lock the entry against every later one.
"""

from dataclasses import dataclass
from datetime import datetime

import structlog

from services.notifier import readers as r
from services.notifier.messages import RecipientKind
from services.notifier.rules import contact_of, speaks_for
from services.notifier.state import Contact, DirectoryEntry
from services.notifier.store import NotifierStore, directory_key
from shared import Change, Context

log = structlog.get_logger("station.notifier.directory")


def learned(
    state: DirectoryEntry | None,
    *,
    kind: RecipientKind,
    recipient_id: str,
    contact: Contact,
    as_of: datetime | None,
    source: str,
    speaker: str,
) -> Change[DirectoryEntry] | None:
    """A recipient as a fact of type `source` from `speaker` (its CloudEvents source)
    describes them; what the fact leaves out is kept. A fact from a service that does not
    own this kind of recipient, or received before what the entry already knows (`as_of`
    is when the notifier received it), changes nothing."""
    if not speaks_for(kind, source=speaker, event_type=source):
        return None
    if state is not None and as_of is not None and state.as_of is not None and as_of < state.as_of:
        return None
    merged = contact.over(state.contact if state else None)
    entry = DirectoryEntry(
        kind=kind,
        id=recipient_id,
        contact=merged,
        as_of=as_of or (state.as_of if state else None),
        learned_from=source,
    )
    if state is not None and state.contact == merged:
        return None
    return Change(entry)


@dataclass(frozen=True)
class Directory:
    """Keeps the directory up to date from the facts that describe people."""

    store: NotifierStore

    async def learn(
        self, ctx: Context, kind: RecipientKind, recipient_id: str | None, contact: Contact | None
    ) -> None:
        """Record what a fact says about one recipient (nothing if it names no one)."""
        if not recipient_id or contact is None:
            return
        speaker, event_type = ctx.event.source, ctx.event.type
        if not speaks_for(kind, source=speaker, event_type=event_type):
            log.warning(
                "directory_refused",
                kind=kind,
                recipient_id=recipient_id,
                source=speaker,
                event_type=event_type,
                reason=f"only its owner's facts say how to reach a {kind}",
            )
            return
        key = directory_key(kind, recipient_id)
        received = ctx.now()
        await self.store.directory.apply(
            key,
            ctx.step(f"learn:{key}"),
            lambda state: learned(
                state,
                kind=kind,
                recipient_id=recipient_id,
                contact=contact,
                as_of=received,
                source=event_type,
                speaker=speaker,
            ),
        )

    async def enterprise_registered(self, fact: r.EnterpriseRegistered, ctx: Context) -> None:
        """An enterprise's contact and its liaison officer."""
        contact = contact_of(fact.contact)
        if contact is not None and contact.name is None:
            contact = contact.model_copy(update={"name": fact.name})
        await self.learn(ctx, "enterprise", fact.enterprise_id, contact)
        officer = fact.liaison_officer
        officer_id = officer.officer_id if officer else None
        await self.learn(ctx, "officer", officer_id, contact_of(officer))

    async def volunteer_registered(self, fact: r.VolunteerRegistered, ctx: Context) -> None:
        """A volunteer who may be given visits."""
        await self.learn(ctx, "volunteer", fact.volunteer_id, contact_of(fact))

    async def mediator_registered(self, fact: r.MediatorRegistered, ctx: Context) -> None:
        """A mediator who may be given cases."""
        await self.learn(ctx, "mediator", fact.mediator_id, contact_of(fact))
