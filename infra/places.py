"""Where the local servers are: their ports, the run folder and the data folder, what
the run folder records of the servers started from it, and which of them are alive."""

import json
import os
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from infra.servers import InfraError, pid_alive

# below Linux's ephemeral range (32768-60999): a client reconnecting to a stopped
# broker's port there can connect to itself and hold the port the broker needs again
DEFAULT_KAFKA_PORT, DEFAULT_CONTROLLER_PORT, DEFAULT_MONGO_PORT = 19092, 19093, 27117
_PORT_VARIABLES = ("STATION_KAFKA_PORT", "STATION_KAFKA_CONTROLLER_PORT", "STATION_MONGO_PORT")
# FerretDB's store (README, "Which store FerretDB runs on")
BACKENDS = ("sqlite", "postgresql")
DEFAULT_BACKEND = "sqlite"


@dataclass(frozen=True)
class Endpoints:
    kafka_port: int
    controller_port: int
    mongo_port: int

    @property
    def kafka_bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "MONGODB_URL": self.mongodb_url,
        }

    @classmethod
    def from_environment(cls) -> "Endpoints":
        """The `STATION_*_PORT` variables; else the ports of the servers running from the
        run folder; else the defaults."""
        if not any(os.environ.get(name) for name in _PORT_VARIABLES):
            found = current()
            if found is not None and None not in running().values():
                return found.endpoints
        defaults = (DEFAULT_KAFKA_PORT, DEFAULT_CONTROLLER_PORT, DEFAULT_MONGO_PORT)
        ports = zip(_PORT_VARIABLES, defaults, strict=True)
        return cls(*(int(os.environ.get(name) or default) for name, default in ports))


@dataclass(frozen=True)
class Current:
    """What the run folder records about the servers started from it."""

    endpoints: Endpoints
    data: Path | None  # None: started by an older version that did not record it
    persistent: bool
    backend: str = "sqlite"
    postgresql_port: int | None = None  # the private PostgreSQL's, if it is the backend


def run_dir() -> Path:
    """Pids, configuration, logs and throwaway data: outside the clone, in a folder only
    its user may enter (created 0700, refused otherwise: another user could read the
    logs or replace a pid file and have `down` signal their process). `STATION_INFRA_DIR`;
    else `$XDG_RUNTIME_DIR/county-station` when that is the user's own private folder;
    else `$XDG_STATE_HOME/county-station/run` (`~/.local/state/county-station/run`)."""
    configured = os.environ.get("STATION_INFRA_DIR")
    if configured:
        return private_dir(Path(configured).resolve())
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _private(Path(runtime)):
        return private_dir(Path(runtime) / "county-station")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return private_dir(Path(state) / "county-station" / "run")


def _private(folder: Path) -> bool:
    try:
        found = folder.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(found.st_mode)
        and found.st_uid == os.getuid()
        and stat.S_IMODE(found.st_mode) & 0o077 == 0
    )


def private_dir(folder: Path) -> Path:
    """`folder`, created 0700 if missing; InfraError if it is not a folder of this user's
    that only they may read, write and enter."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)  # whatever the umask
    found = folder.lstat()
    if not stat.S_ISDIR(found.st_mode):
        raise InfraError(f"the run folder {folder} is not a folder (a link or a file)")
    if found.st_uid != os.getuid():
        raise InfraError(
            f"the run folder {folder} belongs to uid {found.st_uid}, not to you "
            f"(uid {os.getuid()}): set STATION_INFRA_DIR to a folder of your own"
        )
    mode = stat.S_IMODE(found.st_mode)
    if mode & 0o077:
        raise InfraError(
            f"the run folder {folder} has mode {mode:04o}: others may read its logs or "
            f"replace its pid files; `chmod 700 {folder}` if what is in it is yours, "
            "or remove it"
        )
    return folder


def data_dir() -> Path:
    """Kept data: `STATION_DATA_DIR`, else `$XDG_DATA_HOME/county-station`, else
    `~/.local/share/county-station`."""
    configured = os.environ.get("STATION_DATA_DIR")
    if configured:
        return Path(configured).resolve()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "county-station"


def current() -> Current | None:
    state = run_dir() / "state.json"
    try:
        raw = json.loads(state.read_text())
        return Current(
            Endpoints(**raw["endpoints"]),
            Path(raw["data"]),
            bool(raw["persistent"]),
            str(raw.get("backend", "sqlite")),
            raw.get("postgresql_port"),
        )
    except FileNotFoundError:
        pass
    # servers started by an older version: only the `env` file tells their ports
    env: dict[str, str] = {}
    if (run_dir() / "env").exists():
        for line in (run_dir() / "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
    try:
        kafka = int(env["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1])
        mongo = int(env["MONGODB_URL"].rstrip("/").rsplit(":", 1)[1])
    except (KeyError, IndexError, ValueError):
        return None
    return Current(Endpoints(kafka, kafka + 1, mongo), None, persistent=False)


def backend_from_environment() -> str:
    """FerretDB's store: `STATION_FERRETDB_BACKEND` (sqlite or postgresql); else that of
    the servers running from the run folder; else `DEFAULT_BACKEND`."""
    configured = os.environ.get("STATION_FERRETDB_BACKEND", "").strip().lower()
    if configured:
        if configured not in BACKENDS:
            raise InfraError(
                f"STATION_FERRETDB_BACKEND={configured!r}: want one of {', '.join(BACKENDS)}"
            )
        return configured
    found = current()
    if found is not None and None not in running().values():
        return found.backend
    return DEFAULT_BACKEND


def postgresql_port(ep: Endpoints) -> int:
    """`STATION_POSTGRESQL_PORT`, else the port after FerretDB's (27118 by default)."""
    return int(os.environ.get("STATION_POSTGRESQL_PORT") or ep.mongo_port + 1)


def read_pid(name: str) -> int | None:
    """The pid in the run folder's `<name>.pid` if that process is alive; None without
    one. A pid file that is a link or not this user's is refused: signalling the pid
    another user wrote there would stop their choice of process."""
    pid_file = run_dir() / f"{name}.pid"
    try:
        fd = os.open(pid_file, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symbolic link
        raise InfraError(f"{pid_file} is not a plain file: {exc.strerror}") from None
    with os.fdopen(fd) as opened:
        owner = os.fstat(opened.fileno()).st_uid
        if owner != os.getuid():
            raise InfraError(f"{pid_file} belongs to uid {owner}, not to you: not used")
        try:
            pid = int(opened.read())
        except ValueError:
            return None
    return pid if pid_alive(pid) else None


def running() -> dict[str, int | None]:
    """The pid of each local server that is alive, or None: Kafka, FerretDB and, when it
    is FerretDB's store, PostgreSQL (stopped in this order)."""
    names = ["kafka", "ferretdb"]
    found = current()
    if (found is not None and found.backend == "postgresql") or (
        run_dir() / "postgresql.pid"
    ).exists():
        names.append("postgresql")
    return {name: read_pid(name) for name in names}
