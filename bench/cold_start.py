"""Cold start at scale: N annotated, Ready Pods among M Pods (default 10,000 among 50,000).

It runs in an environment of its own (a separate etcd, API server and ZooKeeper,
state under ~/.cache/asab-discovery-operator/bench-env), because 50,000 Pods
would weigh on every other test. Reported next to baselines from the same run:
- time from the operator's start to all N records in ZooKeeper, next to a bare
  pipelined kazoo create of the same N records;
- the operator's peak resident memory (VmHWM), next to the same operator's peak
  with no Pods at all.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import sys
import time

CACHE = pathlib.Path(os.environ.get("ASAB_OPERATOR_CACHE", pathlib.Path.home() / ".cache/asab-discovery-operator"))
os.environ.setdefault("ASAB_OPERATOR_LOCALENV", str(CACHE / "bench-env"))

from common import harness, localenv  # noqa: E402  (after the environment's location is set)

SERVICE = "discovery.asab/service-id"
NAMESPACES = 10


def peak_rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def populate(env, total: int, annotated: int) -> list[str]:
    """Create the Pods (in parallel: the API server takes it), make the annotated ones Ready."""
    namespaces = [f"scale-{i}" for i in range(NAMESPACES)]
    existing = {n.metadata.name for n in env.core.list_namespace().items}
    for namespace in namespaces:
        if namespace not in existing:
            env.core.create_namespace({"metadata": {"name": namespace}})
    have = sum(len(env.core.list_namespaced_pod(n, limit=1, _preload_content=True).items) for n in namespaces)
    if have:
        print("reusing the Pods of an earlier run", flush=True)
        return namespaces

    def make(i: int) -> None:
        namespace, name = namespaces[i % NAMESPACES], f"p-{i}"
        annotations = {SERVICE: f"scale-{i % 100}"} if i < annotated else {}
        env.create_pod(namespace, name, annotations, labels={"app": f"a{i % 50}"})
        if i < annotated:
            env.set_ready(namespace, name, f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for done, _ in enumerate(pool.map(make, range(total)), 1):
            if done % 5000 == 0:
                print(f"  {done} Pods created ({time.monotonic() - started:.0f} s)", flush=True)
    return namespaces


def run_operator(env, log_dir, expect: int, name: str, *flags: str) -> tuple[float, float]:
    """Start an operator; seconds until `expect` records exist, and its peak RSS (MiB)."""
    zk = env.zk()
    path = f"scale-{name}"
    run = f"/{path}/run"
    started = time.monotonic()
    operator = harness.Operator(env, log_dir, "--zookeeper-path", path, "--cluster-id", path,
                                "--key-keeper", "off", *flags, name=name)
    try:
        count = 0
        while time.monotonic() - started < 600:
            count = len(zk.get_children(run)) if zk.exists(run) else 0
            if count >= expect and (expect or operator.readiness() and operator.readiness()[0] == 200):
                break
            if not operator.alive():
                raise RuntimeError(operator.log()[-3000:])
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        time.sleep(2)
        return elapsed, peak_rss_mib(operator.proc.pid)
    finally:
        operator.stop()
        if zk.exists(f"/{path}"):
            zk.delete(f"/{path}", recursive=True)
        zk.stop()
        zk.close()


def bare_create(env, count: int) -> float:
    zk = env.zk()
    base = "/scale-bare"
    zk.ensure_path(base)
    data = b'{"host": "10.0.0.1", "appclass": "KubernetesPod", "instance_id": "x", "service_id": "s", ' \
           b'"containerized": true, "web": [["0.0.0.0", 8080]], "asab_operator": {"cluster": "c"}}'
    started = time.perf_counter()
    for request in [zk.create_async(f"{base}/n{i}", data, ephemeral=True) for i in range(count)]:
        request.get()
    elapsed = time.perf_counter() - started
    zk.stop()
    zk.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=50000)
    parser.add_argument("--annotated", type=int, default=10000)
    args = parser.parse_args()
    localenv.up()
    env = harness.Environment()
    env.install_crds()
    log_dir = localenv.STATE / "logs"
    log_dir.mkdir(exist_ok=True)
    if "scale-empty" not in {n.metadata.name for n in env.core.list_namespace().items}:
        env.core.create_namespace({"metadata": {"name": "scale-empty"}})
    # The baseline: the same operator watching a namespace without Pods.
    empty_time, empty_rss = run_operator(env, log_dir, 0, "empty", "--namespace", "scale-empty")
    populate(env, args.pods, args.annotated)
    cold, rss = run_operator(env, log_dir, args.annotated, "cold")
    bare = bare_create(env, args.annotated)
    print(f"Cold start: {args.annotated} annotated Ready Pods among {args.pods}")
    print(f"  operator start -> all records in ZooKeeper: {cold:7.1f} s   (target: 30 s)")
    print(f"  bare kazoo create of {args.annotated} records:     {bare:7.1f} s   ratio {cold / bare:.0f}x")
    print(f"  peak RSS: {rss:6.1f} MiB (target: 150 MiB); watching no Pods: {empty_rss:6.1f} MiB, "
          f"ratio {rss / empty_rss:.1f}x")
    print(f"(environment: {localenv.STATE}; `ASAB_OPERATOR_LOCALENV={localenv.STATE} "
          f"python tests/env/localenv.py down` removes it)")


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    main()
