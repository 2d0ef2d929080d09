"""Runs the benchmarks against the local environment and prints each as a ratio to its baseline.

    make bench                                   (everything; about 7 minutes)
    .venv/bin/python bench/run.py --only ready   (one of: ready, locate, steady, failover, projection)
    .venv/bin/python bench/run.py --idle-seconds 30
"""
from __future__ import annotations

import argparse
import pathlib
import tempfile

import failover
import locate_latency
import projection
import ready_latency
import steady_and_expiry
from common import harness, localenv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["ready", "locate", "steady", "failover", "projection"], help="run one benchmark")
    parser.add_argument("--idle-seconds", type=float, default=300, help="idle period of the steady-state run")
    parser.add_argument("--pods", type=int, default=500, help="advertised Pods in the steady-state run")
    args = parser.parse_args()
    localenv.up()
    env = harness.Environment()
    env.install_crds()
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="asab-operator-bench-"))
    lines = []
    if args.only in (None, "ready", "locate"):
        operator = harness.Operator(env, log_dir, name="bench-operator")
        peer = None
        try:
            operator.wait_ready()
            if args.only in (None, "ready"):
                lines += ready_latency.report(ready_latency.run(env, operator))
            if args.only in (None, "locate"):
                peer = harness.AsabPeer(env, log_dir, name="bench-peer")
                lines += locate_latency.report(locate_latency.run(env, peer))
        finally:
            if peer:
                peer.stop()
            operator.stop()
    if args.only in (None, "steady"):
        lines += steady_and_expiry.report(steady_and_expiry.run(env, log_dir, args.pods, args.idle_seconds))
    if args.only in (None, "failover"):
        lines += failover.report(failover.run(env, log_dir, args.pods))
    if args.only in (None, "projection"):
        lines += projection.report(projection.run(env, log_dir))
    print("\n".join(lines))
    print(f"(operator logs: {log_dir})")


if __name__ == "__main__":
    main()
