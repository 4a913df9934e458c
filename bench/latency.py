"""End-to-end latency of the enterprise service at fixed rates, with the machine's load.

    uv run python -m bench.latency 700 700 700

`bench.throughput` measures latency at shares of the black-box rate it measured in the
same run, and that rate moves a lot between runs on a shared 2-core machine (a burst of
3,000 commands lasts one or two seconds). This runs the same open loop (60 enterprises,
2 s warm-up, 8 s counted, `declare_inventory` in, `inventory_changed` seen) at the rates
given, one service process for all, and prints beside each how busy the machine's CPUs
were and how much of their time the hypervisor took (steal): figures from windows with
a high steal are not comparable with the others. Needs KAFKA_BOOTSTRAP_SERVERS and
MONGODB_URL (`eval "$(scripts/infra env)"`).
"""

import argparse
import asyncio
import os

from bench.common import Machine, drop_database
from bench.open_loop import WARMUP_S, Enterprise, FactClock, commands_at, open_loop

SECONDS = 8.0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rates", nargs="+", type=float, help="commands per second")
    args = parser.parse_args()
    bootstrap, url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"]
    ent = Enterprise(bootstrap, url)
    clock = FactClock(bootstrap, f"{ent.prefix}.events", "enterprise.inventory_changed")
    service = ent.process()
    await ent.register(service)
    await clock.start()
    start = 0
    try:
        for rate in args.rates:
            machine = Machine()
            w = await open_loop(ent, clock, rate, SECONDS, start)
            busy, steal = machine.busy_and_steal()
            start += commands_at(rate, SECONDS) + 1
            print(
                f"{rate:.0f}/s ({WARMUP_S:.0f} s warm-up, {SECONDS:.0f} s counted): "
                f"p50 {w.p50:.0f} ms  p95 {w.p95:.0f} ms  p99 {w.p99:.0f} ms  "
                f"last fact {w.behind:.0f} ms after the last command  "
                f"(machine busy {busy:.0%}, steal {steal:.1%})",
                flush=True,
            )
    finally:
        await service.kill()
        await clock.stop()
        await drop_database(url, ent.prefix.replace("-", "_"))


if __name__ == "__main__":
    asyncio.run(main())
