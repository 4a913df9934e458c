"""Rules of home services (pure): an officer's home visit booked on the earliest preferred
day with room, else the first day with room after the preferred days; then completed.

Officers are the police volunteers serving the block, else any police volunteer; each
makes a configurable number of home visits a day. The day's room is checked and taken in
one write of the agenda, so two requests never take the same last slot.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.outreach import messages as m
from services.outreach.commands import CompleteHomeService, RequestHomeService
from services.outreach.state import AgendaState, Booking, HomeServiceState, RosterEntry
from shared import Change, Rejected

# Bookings are taken this far ahead at most, and the agenda (one document, so that a
# day's last slot is taken once) holds at most this many from today on: at the command
# bounds it stays far below MongoDB's 16 MiB (tests/unit/test_document_bounds.py).
DAYS_AHEAD = 90
MAX_BOOKINGS = 20_000


@dataclass(frozen=True)
class BookingRule:
    per_officer_per_day: int
    horizon_days: int


def check_dates(cmd: RequestHomeService, today: date) -> list[date]:
    """The preferred days, earliest first; refused when there are none or one is past."""
    if not cmd.preferred_dates:
        raise Rejected(m.NO_PREFERRED_DATES, "preferred_dates is empty")
    past = [d for d in cmd.preferred_dates if d < today]
    if past:
        raise Rejected(m.DATE_IN_THE_PAST, f"{past[0]} is before today ({today})")
    last = today + timedelta(days=DAYS_AHEAD)
    far = [d for d in cmd.preferred_dates if d > last]
    if far:
        raise Rejected(m.DATE_TOO_FAR, f"{far[0]} is after {last} ({DAYS_AHEAD} days ahead)")
    return sorted(set(cmd.preferred_dates))


@dataclass(frozen=True)
class Slot:
    day: date
    officer: RosterEntry
    preferred: bool


def find_slot(
    bookings: Sequence[Booking],
    officers: Sequence[RosterEntry],
    preferred: Sequence[date],
    rule: BookingRule,
) -> Slot:
    """The earliest preferred day with room, else the first day with room after the last
    preferred one; that day's officer with the fewest home visits (ties: smallest id)."""
    if not officers:
        raise Rejected(m.NO_OFFICER, "no police volunteer is registered")
    taken = Counter((b.day, b.officer_id) for b in bookings)

    def free_officer(day: date) -> RosterEntry | None:
        free = [o for o in officers if taken[(day, o.volunteer_id)] < rule.per_officer_per_day]
        return min(free, key=lambda o: (taken[(day, o.volunteer_id)], o.volunteer_id), default=None)

    for day in preferred:
        if (officer := free_officer(day)) is not None:
            return Slot(day, officer, preferred=True)
    for ahead in range(1, rule.horizon_days + 1):
        day = preferred[-1] + timedelta(days=ahead)
        if (officer := free_officer(day)) is not None:
            return Slot(day, officer, preferred=False)
    raise Rejected(m.NO_ROOM, f"no officer has room within {rule.horizon_days} days")


def book(
    state: AgendaState | None,
    cmd: RequestHomeService,
    *,
    officers: Sequence[RosterEntry],
    preferred: Sequence[date],
    today: date,
    rule: BookingRule,
    requested_before: bool,
) -> Change[AgendaState]:
    """The request takes a slot in the agenda (past days are forgotten)."""
    agenda = state or AgendaState()
    if requested_before or any(b.request_id == cmd.request_id for b in agenda.bookings):
        raise Rejected(m.REQUEST_ALREADY_MADE, f"{cmd.request_id} was requested before")
    current = [b for b in agenda.bookings if b.day >= today]
    if len(current) >= MAX_BOOKINGS:
        raise Rejected(m.AGENDA_FULL, f"{len(current)} bookings from today on already")
    slot = find_slot(current, officers, preferred, rule)
    booking = Booking(day=slot.day, officer_id=slot.officer.volunteer_id, request_id=cmd.request_id)
    return Change(agenda.model_copy(update={"bookings": [*current, booking]}))


def booking_of(state: AgendaState | None, request_id: str) -> Booking | None:
    for booking in state.bookings if state is not None else []:
        if booking.request_id == request_id:
            return booking
    return None


def schedule(
    state: HomeServiceState | None,
    cmd: RequestHomeService,
    *,
    booking: Booking,
    officer: RosterEntry,
    preferred: Sequence[date],
) -> Change[HomeServiceState] | None:
    """The request as booked, for the family to be told."""
    if state is not None:
        return None
    request = HomeServiceState(
        **cmd.model_dump(),
        appointment_date=booking.day,
        officer_id=booking.officer_id,
        officer_name=officer.name,
        on_preferred_date=booking.day in preferred,
    )
    fact = m.HomeServiceScheduled(
        **request.model_dump(
            include={
                "request_id",
                "service",
                "appointment_date",
                "officer_id",
                "address",
                "block",
                "requested_by",
                "person",
                "officer_name",
                "on_preferred_date",
            }
        )
    )
    return Change(request, [fact])


def complete(
    state: HomeServiceState | None, cmd: CompleteHomeService, at: datetime
) -> Change[HomeServiceState]:
    """The booked officer did it."""
    if state is None:
        raise Rejected(m.UNKNOWN_REQUEST, f"{cmd.request_id} was never requested")
    if state.status == "completed":
        raise Rejected(m.ALREADY_COMPLETED, f"{cmd.request_id} was completed already")
    if cmd.officer_id != state.officer_id:
        raise Rejected(m.NOT_THE_OFFICER, f"{cmd.request_id} is booked with {state.officer_id}")
    done = state.model_copy(update={"status": "completed", "completed_at": at, "notes": cmd.notes})
    fact = m.HomeServiceCompleted(
        request_id=cmd.request_id, officer_id=cmd.officer_id, service=state.service, notes=cmd.notes
    )
    return Change(done, [fact])
