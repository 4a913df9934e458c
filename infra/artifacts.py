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

from infra.ferretdb_patches import PATCHES, PATCHES_ID

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


def _digest(*files: Path, patch: str = "") -> str:
    sha = hashlib.sha256(patch.encode())
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


async def _output(tool: str, *args: str, cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        tool, *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BuildError(f"{tool} {' '.join(args[:2])} failed: {err.decode(errors='replace')}")
    return out.decode().strip()


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


FERRETDB_MODULE = "github.com/FerretDB/FerretDB"


def _ferretdb_version() -> str:
    for line in (FERRETDB_SRC / "go.mod").read_text().splitlines():
        parts = line.split()
        if FERRETDB_MODULE in parts:
            return parts[parts.index(FERRETDB_MODULE) + 1]
    raise BuildError(f"{FERRETDB_SRC / 'go.mod'} does not require {FERRETDB_MODULE}")


async def _patched_ferretdb_module(cache: Path, version: str) -> Path:
    """A copy of FerretDB's module source with `PATCHES` applied."""
    target = cache / "src" / f"FerretDB-{version}-patched-{PATCHES_ID}"
    if (target / ".complete").exists():
        return target
    await _run("go", "mod", "download", f"{FERRETDB_MODULE}@{version}", cwd=FERRETDB_SRC)
    downloaded = await _output(
        "go", "list", "-m", "-f", "{{.Dir}}", f"{FERRETDB_MODULE}@{version}", cwd=FERRETDB_SRC
    )
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(downloaded, staging, copy_function=shutil.copyfile)
    for folder in (staging, *(d for d in staging.rglob("*") if d.is_dir())):
        folder.chmod(0o755)  # the module cache is read-only; this copy is ours to edit
    for patch in PATCHES:
        source = staging / patch.file
        text = source.read_text()
        if text.count(patch.old) != patch.count:
            raise BuildError(
                f"{FERRETDB_MODULE} {version}: {patch.file} is not as expected; "
                "the patches in infra/ferretdb_patches.py must be revisited"
            )
        source.write_text(text.replace(patch.old, patch.new))
    (staging / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


async def ferretdb_binary(cache: Path) -> Path:
    """The tiny Go program that embeds FerretDB v1.24 (pure-Go SQLite, no cgo)."""
    programs = sorted(p for p in FERRETDB_SRC.glob("*.go") if not p.name.endswith("_test.go"))
    sources = [FERRETDB_SRC / "go.mod", FERRETDB_SRC / "go.sum", *programs]
    binary = cache / "bin" / f"ferretdb-embedded-{_digest(*sources, patch=repr(PATCHES))}"
    if binary.exists():
        return binary
    module = await _patched_ferretdb_module(cache, _ferretdb_version())
    build = cache / "build" / binary.name
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    for file in sources:
        shutil.copyfile(file, build / file.name)
    await _run("go", "mod", "edit", f"-replace={FERRETDB_MODULE}={module}", cwd=build)
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    await _run(
        "go",
        "build",
        "-mod=mod",
        "-trimpath",
        "-o",
        str(partial),
        ".",
        cwd=build,
        env={"CGO_ENABLED": "0"},
    )
    partial.rename(binary)
    shutil.rmtree(build, ignore_errors=True)
    return binary


async def ensure_artifacts(cache: Path) -> Artifacts:
    """Fetch and build both, concurrently; a warm cache makes this instant."""
    await asyncio.to_thread(cache.mkdir, parents=True, exist_ok=True)
    libs, binary = await asyncio.gather(kafka_libs(cache), ferretdb_binary(cache))
    return Artifacts(kafka_libs=libs, ferretdb_binary=binary)
