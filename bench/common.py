"""What the benchmarks share: printing a figure, and timing a service from its own log lines."""

import statistics
from datetime import datetime

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
