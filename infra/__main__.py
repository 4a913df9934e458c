"""`python -m infra up|down|reset|status|env|stack|docs`: local infrastructure, the stack, the docs.

`up` keeps Kafka's and FerretDB's data in the run folder, deleted by `down` (tests, CI);
`up --persistent` and `stack` keep it in the data folder (`STATION_DATA_DIR`), which
only `reset` deletes. FerretDB stores its data in SQLite files or in a private
PostgreSQL server: `STATION_FERRETDB_BACKEND=sqlite|postgresql`.
"""

import argparse
import asyncio
import sys

from infra.artifacts import BuildError
from infra.credentials import ADMIN
from infra.local import check, client_env, credentials, down, reset, up
from infra.places import Endpoints, current, data_dir, run_dir, running
from infra.servers import InfraError

_KEPT = (
    "Kafka's topics, records, consumer offsets and cluster id ({0}/kafka) "
    "and FerretDB's databases ({0}/ferretdb: SQLite; {0}/postgresql: PostgreSQL)"
)


def _print_endpoints(ep: Endpoints) -> None:
    print(
        f"kafka     {ep.kafka_bootstrap_servers}   (KRaft, single node; logs in {run_dir()}/kafka)"
    )
    found = current()
    store = "SQLite"
    if found is not None and found.backend == "postgresql":
        store = f"PostgreSQL on 127.0.0.1:{found.postgresql_port}"
    print(f"mongodb   {ep.mongodb_url}   (FerretDB v1.24, {store}; logs in {run_dir()}/ferretdb)")
    if found is not None and found.data is not None:
        kind = "kept, deleted by `reset`" if found.persistent else "throwaway, deleted by `down`"
        print(f"data      {found.data}   ({kind})")
    for key, value in client_env(ep).items():
        print(f"export {key}={value}")


def _docs(*, check: bool) -> int:
    from infra.docs import ROOT, stale, write

    paths = stale() if check else write()
    for path in paths:
        print(f"{'stale' if check else 'written'}: {path.relative_to(ROOT)}")
    if check and paths:
        print("run `make docs` and commit the result", file=sys.stderr)
        return 1
    return 0


def _down() -> None:
    found, folder = current(), run_dir()  # asked after `down`, run_dir() would make it again
    stopped = down()
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    print(f"deleted: {folder} (pids, logs and throwaway data)")
    if found is not None and found.persistent and found.data is not None:
        print(f"kept:    {found.data} (`scripts/infra reset` deletes it)")


def _reset() -> None:
    stopped, data, existed = reset()
    if stopped:
        print(f"stopped: {', '.join(stopped)}")
    if existed:
        print(f"deleted: {data}: {_KEPT.format(data)}")
    else:
        print(f"nothing to delete: {data} does not exist")


def _status(ep: Endpoints) -> int:
    pids = running()
    for name, pid in pids.items():
        print(f"{name:9} {'running, pid ' + str(pid) if pid else 'stopped'}")
    if None in pids.values():
        return 1
    asyncio.run(
        check(ep, kafka_pid=pids["kafka"] or 0, ferretdb_pid=pids["ferretdb"] or 0, timeout_s=10)
    )
    _print_endpoints(ep)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/infra", description=__doc__)
    parser.add_argument(
        "command", choices=["up", "down", "reset", "status", "env", "stack", "docs"]
    )
    parser.add_argument(
        "--check", action="store_true", help="docs: fail if the generated documents are stale"
    )
    parser.add_argument(
        "--persistent",
        action="store_true",
        help=f"up: keep the data in {data_dir()} (STATION_DATA_DIR) instead of the run folder",
    )
    args = parser.parse_args(argv)
    if args.command == "docs":
        return _docs(check=args.check)
    ep = Endpoints.from_environment()
    try:
        if args.command == "up":
            seconds = asyncio.run(up(ep, persistent=args.persistent))
            _print_endpoints(ep)
            print(f"ready in {seconds:.1f} s", file=sys.stderr)
        elif args.command == "down":
            _down()
        elif args.command == "reset":
            _reset()
        elif args.command == "status":
            return _status(ep)
        elif args.command == "env":
            for key, value in client_env(ep).items():
                print(f"export {key}={value}")
            if (users := credentials()) is not None:
                # the tests' harness finds it alone; benchmarks create topics and groups
                admin = users.properties(ADMIN)
                print(f"# as admin (benchmarks): export KAFKA_CLIENT_PROPERTIES={admin}")
        else:
            from infra.stack import run_stack

            return run_stack(ep)
    except (InfraError, BuildError) as exc:
        print(f"infra {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
