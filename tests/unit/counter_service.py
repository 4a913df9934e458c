"""A tiny service on the kit for the platform's rule tests: counters that never go negative."""

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
    settings_for,
)

BELOW_ZERO = Reason("below_zero", "a counter never goes below zero")


class CounterSettings(ServiceSettings):
    model_config = settings_for("svc")

    http_port: Port = 8190


class Ping(Command, type="svc.ping", subject="key"):
    key: str
    n: float


class Pinged(Fact, type="svc.pinged", subject="key"):
    key: str
    n: float
    total: float


class Counter(State):
    total: float = 0


def wire(runtime: Runtime[CounterSettings]) -> None:
    counters = runtime.store("counters", Counter)

    async def ping(cmd: Ping, ctx: Context) -> None:
        def decide(state: Counter | None) -> Change[Counter]:
            total = (state or Counter()).total + cmd.n
            if total < 0:
                raise Rejected(BELOW_ZERO, f"{cmd.key} would be {total}")
            return Change(Counter(total=total), [Pinged(key=cmd.key, n=cmd.n, total=total)])

        await counters.apply(cmd.key, ctx, decide)

    runtime.handle(ping)


SERVICE = Service("svc", CounterSettings, wire)
