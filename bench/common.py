"""What the benchmarks share: printing a figure, timing a service from its own log lines,
and how busy the machine was meanwhile."""

import statistics
from datetime import datetime
from pathlib import Path

from pymongo import AsyncMongoClient

from tests.processes import ServiceProcess
from tests.support import eventually


def report(name: str, count: int, seconds: float, latencies_ms: list[float]) -> float:
    """Print events/s and p50/p99 latency; return events/s."""
    rate = count / seconds
    q = statistics.quantiles(latencies_ms, n=100)
    print(
        f"{name:<40} {rate:9.0f} /s   p50 {q[49]:8.2f} ms   p99 {q[98]:8.2f} ms"
        f"   ({count} in {seconds:.1f} s)"
    )
    return rate


async def handled(
    service: ServiceProcess, count: int, event_type: str | None = None, timeout_s: float = 900
) -> tuple[float, list[float]]:
    """Wait until the service logged `count` event_received lines (of a type); return the
    seconds from the first to the last and each handler latency."""

    def received() -> list[dict[str, object]]:
        return [
            e
            for e in service.events()
            if e["event"] == "event_received"
            and (event_type is None or e["event_type"] == event_type)
        ]

    async def done() -> bool:
        return len(received()) >= count

    await eventually(done, timeout_s=timeout_s, what=f"{count} events handled")
    lines = received()[:count]
    stamps = [datetime.fromisoformat(str(e["timestamp"])).timestamp() for e in lines]
    return max(stamps) - min(stamps), [float(str(e["latency_ms"])) for e in lines]


async def drop_database(url: str, name: str) -> None:
    """Leave nothing behind on the server."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


def cpu_times() -> list[int]:
    """The machine's CPU time so far, by kind (the `cpu` line of /proc/stat)."""
    return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


class Machine:
    """How busy the machine's CPUs were since this was made, and how much of their time
    the hypervisor took (steal: on a shared host, figures from a window with a high steal
    are not comparable with the others)."""

    def __init__(self) -> None:
        self.before = cpu_times()

    def busy_and_steal(self) -> tuple[float, float]:
        spent = [b - a for a, b in zip(self.before, cpu_times(), strict=True)]
        total = sum(spent) or 1
        idle, iowait, steal = spent[3], spent[4], spent[7]
        return (total - idle - iowait) / total, steal / total
