"""A tiny service built on the platform, run as a real process by the delivery tests.

One aggregate per account; `ledger.record_entry` adds an amount and emits
`ledger.entry_recorded`. `LEDGER_NAME` names its topics (`<name>.intake`,
`<name>.events`), so each test has topics of its own.
"""

import os
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from shared.aggregates import Applied, Change
from shared.consuming import Rejected, Router
from shared.envelope import CloudEvent, derive_id
from shared.runtime import Runtime, ServiceSpec, Wiring, run_service
from shared.settings import Port, ServiceSettings

MAX_AMOUNT = 1_000_000


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    mongodb_database: str = "ledger"
    http_port: Port = 8199
    consumer_group: str = "ledger"


class RecordEntry(BaseModel):
    entry_id: str
    account: str
    amount: int = Field(ge=0)
    behaviour: Literal["normal", "always_fails"] = "normal"


class ScheduleReminder(BaseModel):
    reminder_id: str
    account: str
    due_in_s: float = Field(ge=0)


class ReminderDue(BaseModel):
    reminder_id: str
    account: str


def wire_ledger(name: str) -> "Any":
    def wire(runtime: Runtime) -> Wiring:
        store = runtime.store("accounts")
        router = Router()

        @router.on("ledger.record_entry", RecordEntry)
        async def record_entry(cmd: RecordEntry, event: CloudEvent) -> list[Applied]:
            if cmd.behaviour == "always_fails":
                raise RuntimeError("this entry always fails")
            if cmd.amount > MAX_AMOUNT:
                raise Rejected("amount_too_large", [f"amount {cmd.amount} > {MAX_AMOUNT}"])

            def decide(state: dict[str, Any] | None) -> Change:
                state = state or {"balance": 0, "entries": []}
                recorded = event.caused(
                    role="recorded",
                    type="ledger.entry_recorded",
                    source=f"/services/{name}",
                    subject=cmd.account,
                    time=runtime.clock.now(),
                    data={"entry_id": cmd.entry_id, "account": cmd.account, "amount": cmd.amount},
                )
                return Change(
                    state={
                        "balance": state["balance"] + cmd.amount,
                        "entries": [*state["entries"], cmd.entry_id],
                    },
                    events=[recorded],
                )

            return [await store.apply(cmd.account, event, decide)]

        @router.on("ledger.schedule_reminder", ScheduleReminder)
        async def schedule_reminder(cmd: ScheduleReminder, event: CloudEvent) -> list[Applied]:
            # timer first, state second: a replay finds the timer there (idempotent upsert)
            await runtime.timers.schedule(
                derive_id(event.id, "reminder"),
                event_type="ledger.reminder_due",
                subject=cmd.account,
                correlation_id=event.correlation,
                due_at=runtime.clock.now() + timedelta(seconds=cmd.due_in_s),
                data={"reminder_id": cmd.reminder_id, "account": cmd.account},
            )

            def decide(state: dict[str, Any] | None) -> Change:
                state = state or {"balance": 0, "entries": []}
                return Change(
                    state={**state, "reminders": [*state.get("reminders", []), cmd.reminder_id]}
                )

            return [await store.apply(cmd.account, event, decide)]

        timer_router = Router()

        @timer_router.on("ledger.reminder_due", ReminderDue)
        async def reminder_due(due: ReminderDue, event: CloudEvent) -> list[Applied]:
            def decide(state: dict[str, Any] | None) -> Change:
                state = state or {"balance": 0, "entries": []}
                fired = event.caused(
                    role="fired",
                    type="ledger.reminder_fired",
                    source=f"/services/{name}",
                    subject=due.account,
                    time=runtime.clock.now(),
                    data=due.model_dump(),
                )
                return Change(
                    state={**state, "fired": [*state.get("fired", []), due.reminder_id]},
                    events=[fired],
                )

            return [await store.apply(due.account, event, decide)]

        async def stats() -> dict[str, Any]:
            return {"accounts": await store.collection.count_documents({})}

        return Wiring(
            routers={f"{name}.intake": router},
            stores=[store],
            stats=stats,
            timer_router=timer_router,
        )

    return wire


def spec(name: str) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        settings_type=LedgerSettings,
        topics=(f"{name}.intake", f"{name}.events"),
        wire=wire_ledger(name),
    )


if __name__ == "__main__":
    run_service(spec(os.environ.get("LEDGER_NAME", "ledger")))
