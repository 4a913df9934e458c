"""Durable timers fire once, even with two replicas claiming them (real Kafka and FerretDB)."""

from collections import Counter

import pytest

from tests.platform.harness import Ledger
from tests.support import command, eventually

pytestmark = pytest.mark.integration


async def test_timers_fire_once_with_two_replicas(ledger: Ledger) -> None:
    count = 40
    reminders = [
        command(
            "ledger.schedule_reminder",
            f"acct-{n % 4}",
            {"reminder_id": f"r{n}", "account": f"acct-{n % 4}", "due_in_s": 2 + n % 3},
            command_id=f"remind-{n}",
        )
        for n in range(count)
    ]
    first = ledger.process(LEDGER_TIMER_INTERVAL_S="0.2")
    second = ledger.process(LEDGER_TIMER_INTERVAL_S="0.2")
    await first.start()
    await second.start()
    try:
        await first.wait_ready()
        await second.wait_ready()
        await ledger.send(reminders)

        async def all_fired() -> bool:
            accounts = await ledger.accounts()
            return sum(len(d["state"].get("fired", [])) for d in accounts.values()) >= count

        await eventually(all_fired, timeout_s=60, what="every reminder fired")
        await first.stop()
        await second.stop()
    finally:
        await first.kill()
        await second.kill()

    fired_lines = [e for p in (first, second) for e in p.events() if e["event"] == "timer_fired"]
    owners = Counter(str(e["owner"]) for e in fired_lines)
    accounts = await ledger.accounts()
    fired = sorted(r for d in accounts.values() for r in d["state"].get("fired", []))
    assert fired == sorted(f"r{n}" for n in range(count))
    assert len(fired_lines) == count
    assert len({e["timer_id"] for e in fired_lines}) == count
    assert len(owners) == 2, f"both replicas should have fired some: {owners}"
    print(f"timer owners={dict(owners)}")
