"""The one-run throughput benchmark: the raw limits and the platform, side by side.

    uv run python -m bench.throughput [--records 20000 --commands 3000 --plot latency.png]

Needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL (e.g. `eval "$(scripts/infra env)"`). In one
process and one run it measures: a raw aiokafka relay batched (getmany, produce all,
one commit) and per record; a raw single-document update on the store; the platform (the
ledger service: one aggregate update and one event per command) with 10 and with 1,000
commands per aggregate; the enterprise service black-box (declare_inventory in, until
every inventory_changed is seen); then end-to-end latency at 50, 80 and 100 % of the
black-box rate, and a kill and restart. Prints a table and writes a PNG of latency
against rate.
"""

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field

from bench.common import Machine, drop_database
from bench.open_loop import Enterprise, FactClock, commands_at, open_loop
from bench.platform import ledger_run, raw_kafka_relay, raw_mongo_updates, relay_ends
from bench.plot import latency_plot
from shared._kit.envelope import CloudEvent


@dataclass
class Row:
    name: str
    rate: float
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    latency: list[tuple[float, float, float, float]] = field(default_factory=list)

    def add(self, name: str, rate: float, note: str = "") -> float:
        self.rows.append(Row(name, rate, note))
        print(f"{name:<58} {rate:9.1f} /s  {note}", flush=True)
        return rate


async def raw_batched_relay(bootstrap: str, records: int) -> float:
    """Consume, produce all of a batch without waiting one by one, commit once per batch."""
    sink, consumer, producer = await relay_ends(bootstrap, records)
    done, started = 0, 0.0
    try:
        while done < records:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            if not started and batch:
                started = time.perf_counter()
            sends = [
                await producer.send(sink, r.value, key=r.key) for rs in batch.values() for r in rs
            ]
            await asyncio.gather(*sends)
            await consumer.commit()
            done += len(sends)
        return records / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def platform_rate(bootstrap: str, url: str, commands: int, aggregates: int) -> float:
    """The ledger service handling `commands` spread over `aggregates` accounts."""
    elapsed, _ = await ledger_run(bootstrap, url, commands, aggregates)
    return commands / elapsed


async def black_box(ent: Enterprise, clock: FactClock, commands: list[CloudEvent]) -> float:
    """Commands in at once; the rate from the first sent to the last fact seen."""
    started = time.perf_counter()
    await ent.send(commands)
    await clock.wait([c.id for c in commands])
    return len(commands) / (max(clock.arrived[c.id] for c in commands) - started)


async def restart_time(ent: Enterprise, clock: FactClock, start: int) -> float:
    """SIGKILL the service under load, start it again: seconds from the restart until it
    handles again."""
    service = ent.process()
    await service.start()
    await service.wait_ready()
    await ent.send(ent.declarations(2000, start))
    await asyncio.sleep(1.0)  # the scenario: killed while busy
    await service.kill()
    again = ent.process()
    restarted = time.perf_counter()
    await again.start()
    probe = ent.declarations(1, start + 10_000)
    await ent.send(probe)
    await clock.wait([probe[0].id], timeout_s=120)
    seconds = clock.arrived[probe[0].id] - restarted
    await again.stop()
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--commands", type=int, default=3_000)
    parser.add_argument("--plot", default="throughput-latency.png")
    args = parser.parse_args()
    bootstrap, url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"]
    out = Results()
    kafka_batched = out.add(
        "raw aiokafka relay, batched (getmany, one commit)",
        await raw_batched_relay(bootstrap, args.records),
    )
    out.add("raw aiokafka relay, per record", await raw_kafka_relay(bootstrap, 2000))
    store = out.add("raw single-document update_one", await raw_mongo_updates(url, 2000))
    platform = out.add(
        "platform: 1 update + 1 event, 10 per aggregate",
        await platform_rate(bootstrap, url, args.commands, args.commands // 10),
    )
    out.add(
        "platform: 1 update + 1 event, 1,000 per aggregate",
        await platform_rate(bootstrap, url, args.commands, 3),
    )
    ent = Enterprise(bootstrap, url)
    clock = FactClock(bootstrap, f"{ent.prefix}.events", "enterprise.inventory_changed")
    service = ent.process()
    await ent.register(service)
    await clock.start()
    try:
        sustained = out.add(
            f"black-box declare_inventory, {args.commands} over 60",
            await black_box(ent, clock, ent.declarations(args.commands)),
        )
        out.add(
            "black-box declare_inventory, 6,000 over 60 (100 each)",
            await black_box(ent, clock, ent.declarations(6000, args.commands)),
        )
        start = args.commands + 6000
        for share in (0.5, 0.8, 1.0):
            rate = sustained * share
            machine = Machine()
            w = await open_loop(ent, clock, rate, 8.0, start)
            busy, steal = machine.busy_and_steal()
            start += commands_at(rate, 8.0) + 1
            out.latency.append((rate, w.p50, w.p95, w.p99))
            print(
                f"latency at {share:.0%} ({rate:.0f}/s): "
                f"p50 {w.p50:.0f} ms  p95 {w.p95:.0f} ms  p99 {w.p99:.0f} ms  "
                f"(last fact {w.behind:.0f} ms after the last command; "
                f"machine busy {busy:.0%}, steal {steal:.1%})",
                flush=True,
            )
        await service.stop()
        seconds = await restart_time(ent, clock, start + 100_000)
        print(f"killed under load, restarted: handling again after {seconds:.1f} s", flush=True)
    finally:
        await service.kill()
        await clock.stop()
        await drop_database(url, ent.prefix.replace("-", "_"))
    print(
        json.dumps(
            {
                "platform_vs_raw_store": round(platform / store, 3),
                "platform_vs_raw_batched_kafka": round(platform / kafka_batched, 4),
            }
        )
    )
    latency_plot(out.latency, args.plot)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    asyncio.run(main())
