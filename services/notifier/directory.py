"""The directory of recipients, learned only from the other services' facts.

Enterprises' contacts and liaison officers from `enterprise_registered` (and officers
again from each alert), volunteers from `volunteer_registered`, mediators from
`mediator_registered` (and `mediator_assigned`), requesters from home-service events.
The desks come from the settings. The notifier never reads another service's database.
"""

from dataclasses import dataclass
from datetime import datetime

from services.notifier import readers as r
from services.notifier.messages import RecipientKind
from services.notifier.rules import contact_of
from services.notifier.state import Contact, DirectoryEntry
from services.notifier.store import NotifierStore, directory_key
from shared import Change, Context


def learned(
    state: DirectoryEntry | None,
    *,
    kind: RecipientKind,
    recipient_id: str,
    contact: Contact,
    as_of: datetime | None,
    source: str,
) -> Change[DirectoryEntry] | None:
    """A recipient as a fact describes them; what the fact leaves out is kept, and a fact
    older than what the entry already knows changes nothing."""
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
        key = directory_key(kind, recipient_id)
        await self.store.directory.apply(
            key,
            ctx.step(f"learn:{key}"),
            lambda state: learned(
                state,
                kind=kind,
                recipient_id=recipient_id,
                contact=contact,
                as_of=ctx.event.time,
                source=ctx.event.type,
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
