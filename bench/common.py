"""Helpers for benchmarks: every number is printed next to a baseline measured in the same run."""
from __future__ import annotations

import pathlib
import statistics
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import harness  # noqa: E402,F401
import localenv  # noqa: E402,F401


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 95)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def timing(label: str, values: list[float]) -> str:
    """One line: a label, then the median and p95 of its samples."""
    median, p95 = summary(values)
    return f"  {label:<42} median {ms(median)}  p95 {ms(p95)}"


def appearance_watch(zk, path: str) -> threading.Event:
    """An Event set (with .at = perf_counter) when `path` comes to exist."""
    seen = threading.Event()

    def fire(_event=None):
        if not seen.is_set():
            seen.at = time.perf_counter()
            seen.set()

    if zk.exists(path, watch=fire):
        fire()
    return seen
