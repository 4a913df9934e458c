"""A tiny service built on the kit, run as a real process by the delivery tests.

One aggregate per account; `ledger.record_entry` adds an amount and emits
`ledger.entry_recorded`. `LEDGER_TOPIC_PREFIX` names its topics (`<prefix>.intake`,
`<prefix>.events`), so each test has topics of its own. With `LEDGER_AUDIT=1` it also
reads its own facts back (`audits`: the entries each account's `entry_recorded` facts
named), as a service reads another's: what the trust tests forge facts for.
"""

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from shared import (
    Change,
    Command,
    Context,
    Fact,
    Port,
    Reason,
    Rejected,
    Runtime,
    Service,
    ServiceSettings,
    State,
    Timer,
    settings_for,
)

MAX_AMOUNT = 1_000_000
AMOUNT_TOO_LARGE = Reason("amount_too_large", f"an amount above {MAX_AMOUNT}")


class LedgerSettings(ServiceSettings):
    model_config = settings_for("ledger")

    http_port: Port = 8199


class RecordEntry(Command, type="ledger.record_entry", subject="account"):
    entry_id: str
    account: str
    amount: int = Field(ge=0)
    # test behaviours: a handler that raises, one that takes `slow_s`, and one that kills
    # its process once its change is stored (before publishing and committing), when the
    # file named by LEDGER_CRASH_MARKER does not exist yet (it is created first)
    behaviour: Literal["normal", "always_fails", "slow", "crash_after_store"] = "normal"
    slow_s: float = 0.0


class ScheduleReminder(Command, type="ledger.schedule_reminder", subject="account"):
    reminder_id: str
    account: str
    due_in_s: float = Field(ge=0)
    # how long the reminder's handler takes (a replica can die holding its claim)
    slow_s: float = 0.0


class EntryRecorded(Fact, type="ledger.entry_recorded", subject="account"):
    entry_id: str
    account: str
    amount: int


class ReminderFired(Fact, type="ledger.reminder_fired", subject="account"):
    reminder_id: str
    account: str


class ReminderDue(Timer, type="ledger.reminder_due", subject="account"):
    reminder_id: str
    account: str
    slow_s: float = 0.0


class Audit(State):
    entries: list[str] = Field(default_factory=list)


class Account(State):
    balance: int = 0
    entries: list[str] = Field(default_factory=list)
    reminders: list[str] = Field(default_factory=list)
    fired: list[str] = Field(default_factory=list)


async def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _first_crash() -> bool:
    """True once per marker file (created now): the crash happens on the first delivery."""
    marker = Path(os.environ.get("LEDGER_CRASH_MARKER", "/nonexistent/marker"))
    if not marker.parent.is_dir() or marker.exists():
        return False
    marker.touch()
    return True


def wire(runtime: Runtime[LedgerSettings]) -> None:
    accounts = runtime.store("accounts", Account)

    async def record_entry(cmd: RecordEntry, ctx: Context) -> None:
        if cmd.behaviour == "always_fails":
            raise RuntimeError("this entry always fails")
        if cmd.behaviour == "slow":
            await asyncio.sleep(cmd.slow_s)
        if cmd.amount > MAX_AMOUNT:
            raise Rejected(AMOUNT_TOO_LARGE, f"amount {cmd.amount} > {MAX_AMOUNT}")

        def decide(state: Account | None) -> Change[Account]:
            state = state or Account()
            return Change(
                Account(
                    balance=state.balance + cmd.amount,
                    entries=[*state.entries, cmd.entry_id],
                    reminders=state.reminders,
                    fired=state.fired,
                ),
                [EntryRecorded(entry_id=cmd.entry_id, account=cmd.account, amount=cmd.amount)],
            )

        await accounts.apply(cmd.account, ctx, decide)
        if cmd.behaviour == "crash_after_store" and _first_crash():
            if ctx.unit is None:
                os.kill(os.getpid(), signal.SIGKILL)
            else:  # the unit's writes come first, then its deferred operations: die there
                ctx.unit.defer(_die)

    async def schedule_reminder(cmd: ScheduleReminder, ctx: Context) -> None:
        # timer first, state second: a replay finds the timer there (idempotent upsert)
        await ctx.schedule(
            ctx.derive("reminder"),
            ReminderDue(reminder_id=cmd.reminder_id, account=cmd.account, slow_s=cmd.slow_s),
            at=ctx.now() + timedelta(seconds=cmd.due_in_s),
        )

        def decide(state: Account | None) -> Change[Account]:
            state = state or Account()
            reminders = [*state.reminders, cmd.reminder_id]
            return Change(state.model_copy(update={"reminders": reminders}))

        await accounts.apply(cmd.account, ctx, decide)

    async def reminder_due(due: ReminderDue, ctx: Context) -> None:
        if os.environ.get("LEDGER_SLOW_REMINDERS") == "1":  # this replica will die holding it
            await asyncio.sleep(due.slow_s)

        def decide(state: Account | None) -> Change[Account]:
            state = state or Account()
            fired = [*state.fired, due.reminder_id]
            return Change(
                state.model_copy(update={"fired": fired}),
                [ReminderFired(reminder_id=due.reminder_id, account=due.account)],
            )

        await accounts.apply(due.account, ctx, decide)

    async def stats() -> dict[str, Any]:
        return {"accounts": await accounts.count()}

    runtime.handle(record_entry, schedule_reminder, reminder_due)
    runtime.report(stats)
    if os.environ.get("LEDGER_AUDIT") == "1":
        audits = runtime.store("audits", Audit)

        async def audit_entry(fact: EntryRecorded, ctx: Context) -> None:
            def decide(state: Audit | None) -> Change[Audit]:
                return Change(Audit(entries=[*(state or Audit()).entries, fact.entry_id]))

            await audits.apply(fact.account, ctx, decide)

        runtime.handle(audit_entry)


SERVICE = Service("ledger", LedgerSettings, wire)

if __name__ == "__main__":
    SERVICE.run()
