"""A MongoDB-compatible server that stops answering (a wedged FerretDB database, say) is a
timeout retried as an outage, never a service that hangs with it (real FerretDB behind a
TCP forwarder the test can freeze, the ledger service as a process)."""

import asyncio
from collections import Counter
from contextlib import suppress

import httpx
import pytest

from tests.platform.harness import Ledger, entry
from tests.support import Infra, eventually, free_port, stats_of, stats_showing

pytestmark = pytest.mark.integration


class FreezableForwarder:
    """Forwards TCP to the real server; while frozen, it reads requests and answers nothing."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.frozen = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> "FreezableForwarder":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(ConnectionError):
                while data := await src.read(65536):
                    if self.frozen.is_set():
                        continue  # swallowed: the client waits for an answer that never comes
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))


async def test_a_server_that_stops_answering_is_an_outage_retried_then_passed(
    ledger: Ledger,
) -> None:
    real = ledger.infra
    host, _, port = real.mongodb_url.removeprefix("mongodb://").rstrip("/").partition(":")
    async with FreezableForwarder(host, int(port)) as forwarder:
        ledger.infra = Infra(
            ledger.infra.kafka_bootstrap_servers,
            f"mongodb://127.0.0.1:{forwarder.port}/",
            "forwarded",
        )
        total = 300
        commands = [entry(n, f"acct-{n % 5}", 1) for n in range(total)]
        await ledger.send(commands[:150])
        service = ledger.process(LEDGER_MONGODB_TIMEOUT_S="1")
        await service.start()
        try:
            await ledger.wait_applied(50)
            before = await stats_showing(service.port, 30, accounts=5)
            forwarder.frozen.set()
            await ledger.send(commands[150:])  # work that has to meet the frozen server

            async def timed_out() -> bool:
                return any(e["event"] == "transient_failure" for e in service.events())

            await eventually(timed_out, timeout_s=30, what="a timed-out call retried")
            # /stats reads nothing per request: it answers at once, from memory, while
            # every read of the database hangs (the figures say how old they are)
            # (a request that read it would wait out the 1 s timeout: 20 take less in all)
            async with httpx.AsyncClient() as http, asyncio.timeout(1):
                url = f"http://127.0.0.1:{service.port}/stats"
                answers = [(await http.get(url)).json() for _ in range(20)]
            assert all(a["accounts"] == 5 for a in answers), answers[-1]
            assert all(a["as_of"] >= before["as_of"] for a in answers)
            forwarder.frozen.clear()
            await ledger.wait_applied(total, timeout_s=120)
            await ledger.wait_drained()

            async def recomputed() -> bool:
                return str((await stats_of(service.port))["as_of"]) > str(before["as_of"])

            await eventually(recomputed, timeout_s=30, what="figures computed after the freeze")
            assert (await stats_of(service.port))["accounts"] == 5
            assert await service.stop() == 0
        finally:
            await service.kill()
    ledger.infra = real  # read the outcome (and drop the database) without the forwarder

    logged = Counter(e["event"] for e in service.events())
    assert logged["dead_lettered"] == 0
    assert sorted(await ledger.applied()) == sorted(f"e{n}" for n in range(total))
    print(f"transient_failures={logged['transient_failure']}")
