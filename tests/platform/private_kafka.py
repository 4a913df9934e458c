"""A Kafka broker of one test's own, which the test may stop and start again on its data.

Its ports lie below Linux's ephemeral range (32768-60999): a client reconnecting to a
stopped broker on a port inside that range can connect to itself and hold the port,
and the restarted broker then dies with "Address already in use".
"""

import asyncio
import random
import signal
from pathlib import Path

from infra.credentials import Credentials
from infra.kafka import ensure_topics, round_trip
from infra.servers import format_kafka, kafka_argv, kafka_config, port_free
from tests.support import eventually

HEALTHCHECK_TOPIC = "_private.healthcheck"
EPHEMERAL_PORTS = range(32768, 61000)


def free_low_port(taken: set[int] | None = None) -> int:
    """A free loopback port below the ephemeral range (and not in `taken`)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, EPHEMERAL_PORTS.start)
        if port not in (taken or set()) and port_free(port):
            return port
    raise RuntimeError("no free port below 32768")


class PrivateKafka:
    """A single-node KRaft broker on ports of its own, its log in `root / "data"`; with
    `users` (those of the broker the harness signs in to), the same users and passwords,
    so every client of the test signs in to both alike."""

    def __init__(self, libs: Path, root: Path, users: Credentials | None = None) -> None:
        self.libs, self.root, self.users = libs, root, users
        self.port = free_low_port()
        self.controller_port = free_low_port({self.port})
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def log_tail(self) -> str:
        log = self.root / "conf" / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""

    async def start(self, timeout_s: float = 90.0) -> None:
        """Format the data folder if it is new, start the broker, wait for a round trip."""
        server, log4j = kafka_config(
            self.root / "conf", self.data, self.port, self.controller_port, self.users
        )
        await asyncio.to_thread(format_kafka, self.libs, server, log4j, self.data, self.users)
        with (self.root / "conf" / "stdout.log").open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *kafka_argv(self.libs, server, log4j),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
        answers = asyncio.create_task(
            eventually(self._answers, timeout_s=timeout_s, what="private Kafka answers")
        )
        died = asyncio.create_task(self.proc.wait())
        await asyncio.wait({answers, died}, return_when=asyncio.FIRST_COMPLETED)
        if not answers.done():  # a dead broker will not answer: fail now
            answers.cancel()
            raise AssertionError(
                f"private Kafka exited ({self.proc.returncode}); its log ends:\n{self.log_tail()}"
            )
        died.cancel()
        answers.result()

    async def _answers(self) -> bool:
        await ensure_topics(self.bootstrap, [HEALTHCHECK_TOPIC], partitions=1)
        await round_trip(self.bootstrap, HEALTHCHECK_TOPIC, timeout_s=10)
        return True

    async def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM (a controlled shutdown), SIGKILL if it takes longer than `timeout_s`."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
