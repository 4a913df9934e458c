"""A FerretDB of one's own on either backend (with its own PostgreSQL if need be).

For the benchmark comparing the backends (`bench/store_backends.py`) and the tests that
run FerretDB privately: a server they may wedge or stop without disturbing anyone.
"""

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from infra import postgresql
from infra.artifacts import cache_dir, ferretdb_binary
from infra.servers import InfraError, ferretdb_argv, mongo_ping


@dataclass(frozen=True)
class PrivateStore:
    backend: str
    url: str  # mongodb://…, through the proxy
    log: Path  # FerretDB's (and PostgreSQL's, `postgresql.log` next to it)


async def _stop(proc: asyncio.subprocess.Process, signum: int, timeout_s: float = 20) -> None:
    if proc.returncode is not None:
        return
    with suppress(ProcessLookupError):
        proc.send_signal(signum)
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def _until(
    what: str,
    proc: asyncio.subprocess.Process,
    log: Path,
    probe: Callable[[], Awaitable[bool]],
) -> None:
    deadline = time.monotonic() + 60
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            text = await asyncio.to_thread(log.read_text, errors="replace")
            tail = "\n".join(text.splitlines()[-15:])
            raise InfraError(f"{what} exited ({proc.returncode}):\n{tail}")
        try:
            if await probe():
                return
        except Exception as exc:  # noqa: BLE001 - not ready yet
            last = exc
        await asyncio.sleep(0.2)
    raise InfraError(f"{what} not ready in 60 s ({last!r})")


@asynccontextmanager
async def private_ferretdb(
    backend: str,
    folder: Path,
    *,
    port: int,
    postgresql_port: int | None = None,
    write_timeout_s: float | None = None,
) -> AsyncIterator[PrivateStore]:
    """FerretDB on 127.0.0.1:`port` with its data in `folder`, stopped on exit."""
    binary = await ferretdb_binary(cache_dir())
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    log = folder / "ferretdb.log"
    procs: list[tuple[asyncio.subprocess.Process, int]] = []  # stopped in reverse order
    try:
        pg_url = None
        if backend == "postgresql":
            if postgresql_port is None:
                raise InfraError("the postgresql backend needs a port for PostgreSQL")
            bindir = await asyncio.to_thread(postgresql.install)
            who = await asyncio.to_thread(postgresql.identity)
            cluster = folder / "postgresql"
            await asyncio.to_thread(postgresql.prepare_cluster, cache_dir(), bindir, cluster)
            pg_log = folder / "postgresql.log"
            with pg_log.open("ab") as out:
                pg = await asyncio.create_subprocess_exec(
                    *postgresql.server_argv(bindir, cluster, postgresql_port),
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL,
                    cwd="/",
                    user=who.uid,
                    group=who.gid,
                    extra_groups=who.groups,
                )
            procs.append((pg, signal.SIGINT))  # SIGTERM would wait for FerretDB to leave

            async def accepts() -> bool:
                return await asyncio.to_thread(postgresql.ready, bindir, postgresql_port)

            await _until("postgresql", pg, pg_log, accepts)
            pg_url = postgresql.url(postgresql_port)
        elif backend != "sqlite":
            raise InfraError(f"FerretDB backend {backend!r}: want sqlite or postgresql")
        argv = ferretdb_argv(
            binary,
            port,
            folder / "sqlite",
            write_timeout_s=write_timeout_s,
            postgresql_url=pg_url,
        )
        with log.open("ab") as out:
            ferretdb = await asyncio.create_subprocess_exec(
                *argv,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
        procs.append((ferretdb, signal.SIGTERM))
        url = f"mongodb://127.0.0.1:{port}/"

        async def answers() -> bool:
            await mongo_ping(url)
            return True

        await _until("ferretdb", ferretdb, log, answers)
        yield PrivateStore(backend, url, log)
    finally:
        for proc, signum in reversed(procs):
            await _stop(proc, signum)
