"""Wait until a Ray cluster has its nodes: ``python -m raygen.cli.wait_nodes --address
HOST:PORT --nodes N [--timeout S]``. Used by the Slurm script between starting Ray
on the allocation's nodes and starting the driver; exit 0 when N nodes are alive,
1 (with what is there) on timeout."""

from __future__ import annotations

import argparse
import sys
import time


def alive_nodes(address: str) -> int:
    import ray

    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        return sum(1 for n in ray.nodes() if n.get("Alive"))
    finally:
        ray.shutdown()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m raygen.cli.wait_nodes", description=__doc__)
    p.add_argument("--address", required=True)
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--timeout", type=float, default=300.0)
    args = p.parse_args(argv)
    from raygen.cluster import probe_address
    from raygen.errors import RunError

    deadline = time.monotonic() + args.timeout
    seen = 0
    while time.monotonic() < deadline:
        try:
            probe_address(args.address, timeout=5.0)
            seen = alive_nodes(args.address)
            if seen >= args.nodes:
                print(f"Ray at {args.address}: {seen} node(s) up", flush=True)
                return 0
        except (RunError, ConnectionError, RuntimeError):
            pass
        time.sleep(2.0)
    print(f"Ray at {args.address}: {seen} of {args.nodes} node(s) up after "
          f"{args.timeout:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
