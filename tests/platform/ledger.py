"""A tiny service built on the platform, run as a real process by the delivery tests.

One aggregate per account; `ledger.record_entry` adds an amount and emits
`ledger.entry_recorded`. `LEDGER_NAME` names its topics (`<name>.intake`,
`<name>.events`), so each test has topics of its own.
"""

import os
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from shared.aggregates import Applied, Change
from shared.consuming import Rejected, Router
from shared.envelope import CloudEvent
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

        async def stats() -> dict[str, Any]:
            return {"accounts": await store.collection.count_documents({})}

        return Wiring(routers={f"{name}.intake": router}, stores=[store], stats=stats)

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
