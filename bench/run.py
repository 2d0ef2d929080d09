"""Runs the benchmarks against the local environment and prints each as a ratio to its baseline.

    make bench        (or .venv/bin/python bench/run.py)
"""
from __future__ import annotations

import tempfile
import pathlib

import ready_latency
from common import harness, localenv


def main() -> None:
    localenv.up()
    env = harness.Environment()
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="asab-operator-bench-"))
    operator = harness.Operator(env, log_dir, name="bench-operator")
    try:
        operator.wait_ready()
        lines = ready_latency.report(ready_latency.run(env, operator))
    finally:
        operator.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
