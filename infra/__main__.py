"""`python -m infra up|down|status|env|stack|docs`: local infrastructure, the stack, the docs."""

import argparse
import asyncio
import sys

from infra.artifacts import BuildError
from infra.local import Endpoints, InfraError, check, down, run_dir, running, up


def _print_endpoints(ep: Endpoints) -> None:
    print(
        f"kafka     {ep.kafka_bootstrap_servers}   (KRaft, single node; logs in {run_dir()}/kafka)"
    )
    print(f"mongodb   {ep.mongodb_url}   (FerretDB v1.24, SQLite; logs in {run_dir()}/ferretdb)")
    for key, value in ep.env().items():
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/infra", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "env", "stack", "docs"])
    parser.add_argument(
        "--check", action="store_true", help="docs: fail if the generated documents are stale"
    )
    args = parser.parse_args(argv)
    if args.command == "docs":
        return _docs(check=args.check)
    ep = Endpoints.from_environment()
    try:
        if args.command == "up":
            seconds = asyncio.run(up(ep))
            _print_endpoints(ep)
            print(f"ready in {seconds:.1f} s", file=sys.stderr)
        elif args.command == "down":
            stopped = down()
            print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        elif args.command == "status":
            pids = running()
            for name, pid in pids.items():
                print(f"{name:9} {'running, pid ' + str(pid) if pid else 'stopped'}")
            if None in pids.values():
                return 1
            asyncio.run(
                check(
                    ep,
                    kafka_pid=pids["kafka"] or 0,
                    ferretdb_pid=pids["ferretdb"] or 0,
                    timeout_s=10,
                )
            )
            _print_endpoints(ep)
        elif args.command == "env":
            for key, value in ep.env().items():
                print(f"export {key}={value}")
        else:
            from infra.stack import run_stack

            return run_stack(ep)
    except (InfraError, BuildError) as exc:
        print(f"infra {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
