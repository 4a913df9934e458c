"""Fetch Kafka's jars with Maven and build the embedded FerretDB with Go, cached outside the clone.

The cache key is a hash of the files that define each artifact, so editing the pom or
the Go program rebuilds it and nothing else ever does.
"""

import asyncio
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
KAFKA_POM = INFRA_DIR / "kafka" / "pom.xml"
FERRETDB_SRC = INFRA_DIR / "ferretdb"


class BuildError(RuntimeError):
    """A tool needed to fetch or build the infrastructure failed."""


@dataclass(frozen=True)
class Artifacts:
    kafka_libs: Path
    ferretdb_binary: Path


def cache_dir() -> Path:
    """Downloads and binaries live here, outside the clone, so a second start is fast."""
    configured = os.environ.get("STATION_CACHE_DIR")
    if configured:
        return Path(configured).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "county-station"


def _digest(*files: Path) -> str:
    sha = hashlib.sha256()
    for file in files:
        sha.update(file.name.encode())
        sha.update(file.read_bytes())
    return sha.hexdigest()[:12]


async def _run(tool: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    if shutil.which(tool) is None:
        raise BuildError(f"{tool} is not installed; it is needed to build the local infrastructure")
    proc = await asyncio.create_subprocess_exec(
        tool,
        *args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    if proc.returncode != 0:
        tail = "\n".join(output.decode(errors="replace").splitlines()[-30:])
        raise BuildError(f"{tool} {' '.join(args[:2])} failed (exit {proc.returncode}):\n{tail}")


async def kafka_libs(cache: Path) -> Path:
    """Every runtime jar of the broker in one folder, for a `-cp 'libs/*'` class path."""
    target = cache / f"kafka-{_digest(KAFKA_POM)}" / "libs"
    if (target / ".complete").exists():
        return target
    staging = target.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    await _run(
        "mvn",
        "-B",
        "-q",
        "-f",
        str(KAFKA_POM),
        "dependency:copy-dependencies",
        f"-Dmaven.repo.local={cache / 'm2'}",
        f"-DoutputDirectory={staging}",
        cwd=INFRA_DIR / "kafka",
    )
    (staging / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    shutil.rmtree(INFRA_DIR / "kafka" / "target", ignore_errors=True)
    return target


async def ferretdb_binary(cache: Path) -> Path:
    """The tiny Go program that embeds FerretDB v1.24 (pure-Go SQLite, no cgo)."""
    sources = [FERRETDB_SRC / "go.mod", FERRETDB_SRC / "go.sum", *sorted(FERRETDB_SRC.glob("*.go"))]
    binary = cache / "bin" / f"ferretdb-embedded-{_digest(*sources)}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    await _run(
        "go",
        "build",
        "-trimpath",
        "-o",
        str(partial),
        ".",
        cwd=FERRETDB_SRC,
        env={"CGO_ENABLED": "0"},
    )
    partial.rename(binary)
    return binary


async def ensure_artifacts(cache: Path) -> Artifacts:
    """Fetch and build both, concurrently; a warm cache makes this instant."""
    await asyncio.to_thread(cache.mkdir, parents=True, exist_ok=True)
    libs, binary = await asyncio.gather(kafka_libs(cache), ferretdb_binary(cache))
    return Artifacts(kafka_libs=libs, ferretdb_binary=binary)
