"""A private PostgreSQL server for FerretDB's PostgreSQL backend (`STATION_FERRETDB_BACKEND`).

PostgreSQL comes from Debian's packages (installed with apt-get when missing). Each
cluster is a copy of one `initdb` output cached in `~/.cache/county-station/postgresql/`;
the server listens on 127.0.0.1 only (no Unix socket), trusts its loopback clients and
runs as a detached process like Kafka and FerretDB.

PostgreSQL refuses to run as root (initdb and postgres both check the effective uid).
As root, the server runs in a user namespace of its own (`unshare --user`, no uid
mapped): inside, its uid is `nobody`, so the check passes, while the kernel still checks
its file accesses as root's, so the cluster can live in any folder root owns (`/root` is
0700, which the `postgres` account could not even traverse). Where user namespaces are
not allowed, it runs as Debian's `postgres` account instead, owning its cluster folder.
"""

import functools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.servers import InfraError

PACKAGE = "postgresql"  # Debian's: the distribution's current major version
USER = "ferretdb"  # the cluster's superuser, which FerretDB connects as
DATABASE = "postgres"  # FerretDB keeps each MongoDB database as a schema in this one
# each setting is passed on the command line, so a kept cluster follows the current ones
SETTINGS = (
    "listen_addresses=127.0.0.1",
    "unix_socket_directories=",  # TCP on loopback only: no socket path to clash
    "max_connections=120",  # FerretDB's pool holds at most 50 per user
    "log_min_messages=warning",
    "log_line_prefix=%m [%p] ",
)


def _versions() -> list[tuple[int, Path]]:
    servers = Path("/usr/lib/postgresql").glob("*/bin/postgres")
    return sorted(
        (int(s.parent.parent.name), s.parent) for s in servers if s.parent.parent.name.isdigit()
    )


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries: `STATION_POSTGRESQL_BIN`, else Debian's
    `/usr/lib/postgresql/<major>/bin`, else the `postgres` on the PATH."""
    configured = os.environ.get("STATION_POSTGRESQL_BIN")
    if configured:
        return Path(configured) if (Path(configured) / "postgres").exists() else None
    versions = _versions()
    if versions:
        return versions[-1][1]
    on_path = shutil.which("postgres")
    return Path(on_path).resolve().parent if on_path else None


def install() -> Path:
    """PostgreSQL's binaries, installed from Debian's packages if missing."""
    found = bin_dir()
    if found is not None:
        return found
    if configured := os.environ.get("STATION_POSTGRESQL_BIN"):
        raise InfraError(f"STATION_POSTGRESQL_BIN={configured}: no postgres there")
    if shutil.which("apt-get") is None:
        raise InfraError("PostgreSQL is not installed and there is no apt-get to install it")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        raise InfraError("PostgreSQL is not installed; run: sudo apt-get install -y postgresql")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", PACKAGE]):
        result = subprocess.run(
            [*sudo, *step], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise InfraError(
                f"{' '.join(step)} failed (exit {result.returncode}); install PostgreSQL "
                f"(apt-get install -y {PACKAGE}) and try again:\n{result.stderr[-2000:]}"
            )
    found = bin_dir()
    if found is None:
        raise InfraError(f"apt-get installed {PACKAGE}, but no postgres binary was found")
    return found


@dataclass(frozen=True)
class Identity:
    """How PostgreSQL's programs are run: a command prefix, or another account."""

    prefix: tuple[str, ...] = ()
    account: pwd.struct_passwd | None = None

    @property
    def how(self) -> str:
        if self.prefix:
            return "as root in a user namespace of its own (unshare --user)"
        if self.account is not None:
            return f"as the {self.account.pw_name} account"
        return "as the current user"

    @property
    def uid(self) -> int | None:
        return None if self.account is None else self.account.pw_uid

    @property
    def gid(self) -> int | None:
        return None if self.account is None else self.account.pw_gid

    @property
    def groups(self) -> list[int] | None:
        return None if self.account is None else []

    def own(self, folder: Path) -> None:
        """Make `folder` (recursively) the server's own."""
        if self.account is None:
            return
        for path in (folder, *folder.rglob("*")):
            os.chown(path, self.account.pw_uid, self.account.pw_gid, follow_symlinks=False)


@functools.cache
def identity() -> Identity:
    if os.geteuid() != 0:
        return Identity()
    unshare = shutil.which("unshare")
    if unshare is not None:
        probe = subprocess.run([unshare, "--user", "--", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return Identity(prefix=(unshare, "--user", "--"))
    try:
        return Identity(account=pwd.getpwnam("postgres"))
    except KeyError:
        raise InfraError(
            "PostgreSQL cannot run as root, user namespaces are not allowed here and there "
            "is no postgres account to run it as"
        ) from None


def version(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+(?:\.\d+)*)", out)
    return match.group(1) if match else out.strip()


def _initdb(bindir: Path, target: Path, who: Identity) -> None:
    argv = [
        *who.prefix,
        str(bindir / "initdb"),
        "--pgdata",
        str(target),
        "--username",
        USER,
        "--auth",
        "trust",
        "--encoding",
        "UTF8",
        "--locale",
        "C",  # FerretDB accepts only C, POSIX, C.UTF8 and en_US.UTF8
        "--no-sync",  # a template, copied before use
        "--no-instructions",
    ]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",  # the postgres account may not be able to reach the current folder
        user=who.uid,
        group=who.gid,
        extra_groups=who.groups,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        raise InfraError(f"initdb failed (exit {result.returncode}):\n{output}")


def template(cache: Path, bindir: Path) -> Path:
    """An empty cluster made by `initdb`, cached: copying it is faster than `initdb`."""
    target = cache / "postgresql" / f"{version(bindir)}-{USER}-C" / "template"
    if (target.parent / ".complete").exists():
        return target
    who = identity()
    # initdb runs in a folder of its own under /tmp, which the postgres account (if it
    # is the one running it) can reach, then the result moves into the cache
    scratch = Path(tempfile.mkdtemp(prefix="county-station-initdb-"))
    try:
        who.own(scratch)
        _initdb(bindir, scratch / "cluster", who)
        staging = target.parent / "template.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(scratch / "cluster", staging, symlinks=True)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        (target.parent / ".complete").touch()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def prepare_cluster(cache: Path, bindir: Path, cluster: Path) -> bool:
    """A cluster in `cluster`: kept if there, else a copy of the template. True if new."""
    if (cluster / "PG_VERSION").exists():
        identity().own(cluster)
        return False
    source = template(cache, bindir)
    shutil.rmtree(cluster, ignore_errors=True)
    cluster.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, cluster, symlinks=True)
    cluster.chmod(0o700)
    identity().own(cluster)
    return True


def server_argv(bindir: Path, cluster: Path, port: int) -> list[str]:
    settings = [f"port={port}", *SETTINGS]
    return [
        *identity().prefix,
        str(bindir / "postgres"),
        "-D",
        str(cluster),
        *(arg for setting in settings for arg in ("-c", setting)),
    ]


def url(port: int) -> str:
    """What FerretDB connects to (`-postgresql-url`)."""
    return f"postgres://{USER}@127.0.0.1:{port}/{DATABASE}"


def ready(bindir: Path, port: int) -> bool:
    """True once the server accepts connections (not merely listens)."""
    where = ["-h", "127.0.0.1", "-p", f"{port}", "-U", USER, "-d", DATABASE]
    result = subprocess.run(
        [str(bindir / "pg_isready"), "-q", *where],
        capture_output=True,
        check=False,
        timeout=10,
    )
    return result.returncode == 0
