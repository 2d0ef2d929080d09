"""With 500 annotated Pods advertised:

- idle: ZooKeeper writes (the server's zxid, and the operator's own counter) and
  Kubernetes writes by the operator (the API server's audit log) during an idle
  period (default 5 minutes). The target is 0 for both.
- session expiry: the operator is paused until ZooKeeper expires its session; the
  time from its new session to all 500 records back, next to a bare kazoo create
  of the same 500 records (pipelined, as fast as kazoo goes) in the same run.
"""
from __future__ import annotations

import datetime
import signal
import statistics
import threading
import time
import uuid

from common import harness

SERVICE = "discovery.asab/service-id"


def prepare(env, count: int):
    namespace = env.namespace("bench-500")
    for i in range(count):
        env.create_pod(namespace, f"p-{i}", {SERVICE: f"bench-{namespace}"})
        env.set_ready(namespace, f"p-{i}", f"127.8.{i // 250}.{i % 250 + 2}")
    return namespace


def ours(zk, run, namespace):
    return [n for n in zk.get_children(run) if f"~{namespace}~" in n]


def run(env, log_dir, count: int = 500, idle_seconds: float = 300) -> dict:
    path = f"bench-{uuid.uuid4().hex[:6]}"
    run_path = f"/{path}/run"
    zk = env.zk()
    operator = harness.Operator(env, log_dir, "--zookeeper-path", path, "--cluster-id", path,
                                "--session-timeout", "4", "--reconcile-period", "60", name="bench-expiry")
    result = {"count": count, "idle_seconds": idle_seconds}
    namespace = None
    try:
        operator.wait_ready()
        namespace = prepare(env, count)
        harness.eventually(lambda: zk.exists(run_path) and len(ours(zk, run_path, namespace)) == count,
                            120, 0.1, f"{count} records")
        records = {n: zk.get(f"{run_path}/{n}")[0] for n in ours(zk, run_path, namespace)}
        time.sleep(2)

        # Idle.
        zxid, mark = harness.zxid(env), env.audit_mark()
        writes = operator.metric("asab_operator_zookeeper_writes_total")
        time.sleep(idle_seconds)
        result["idle_zxid_delta"] = harness.zxid(env) - zxid
        result["idle_zk_writes"] = operator.metric("asab_operator_zookeeper_writes_total") - writes
        result["idle_k8s_writes"] = len(env.writes_since(mark))

        # Session expiry, and the baseline, three times each: the median of each is reported.
        restores, bares = [], []
        for _ in range(3):
            restores.append(expire_and_restore(zk, operator, run_path, namespace, count))
            bares.append(bare_create(env, zk, records))
        result["expiry_restore"] = statistics.median(restores)
        result["bare_create"] = statistics.median(bares)
    finally:
        operator.proc.send_signal(signal.SIGCONT)
        operator.stop()
        if namespace:
            env.clean_namespace(namespace)
        zk.stop()
        zk.close()
    return result


def expire_and_restore(zk, operator, run_path: str, namespace: str, count: int) -> float:
    """Pause the operator until its session expires; seconds from its new session to all records back."""
    complete, gone = threading.Event(), threading.Event()

    def watch(children):
        if gone.is_set() and len([c for c in children if f"~{namespace}~" in c]) == count:
            complete.at = time.time()
            complete.set()
            return False
    sessions = operator.log().count("established; restoring")
    operator.proc.send_signal(signal.SIGSTOP)
    try:
        harness.eventually(lambda: not ours(zk, run_path, namespace), 30, 0.05, "the session to expire")
        gone.set()
        zk.ChildrenWatch(run_path, watch)
    finally:
        operator.proc.send_signal(signal.SIGCONT)
    assert complete.wait(60), "the records did not come back"
    harness.eventually(lambda: operator.log().count("established; restoring") > sessions, 10, 0.05, "the log line")
    established = [line for line in operator.log().splitlines() if "established; restoring" in line][-1]
    stamp = datetime.datetime.strptime(established[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return complete.at - stamp


def bare_create(env, zk, records: dict) -> float:
    """The same records, created by a bare kazoo client as fast as it goes (pipelined)."""
    base = f"/bench-bare-{uuid.uuid4().hex[:6]}"
    zk.ensure_path(base)
    writer = env.zk()
    try:
        started = time.perf_counter()
        pending = [writer.create_async(f"{base}/{name}", data, ephemeral=True) for name, data in records.items()]
        for request in pending:
            request.get()
        return time.perf_counter() - started
    finally:
        writer.stop()
        writer.close()
        zk.delete(base, recursive=True)


def report(result: dict) -> list[str]:
    ratio = result["expiry_restore"] / result["bare_create"]
    return [
        f"Steady state with {result['count']} advertised Pods, idle for {result['idle_seconds']:g} s",
        f"  ZooKeeper transactions (zxid delta, all clients): {result['idle_zxid_delta']}",
        f"  ZooKeeper writes by the operator:                 {result['idle_zk_writes']:g}   (target: 0)",
        f"  Kubernetes writes by the operator (audit log):    {result['idle_k8s_writes']}   (target: 0)",
        f"Session expiry with {result['count']} advertisements",
        f"  new session -> all back (median of 3):       {result['expiry_restore'] * 1000:8.1f} ms",
        f"  bare kazoo create of the same (median of 3): {result['bare_create'] * 1000:8.1f} ms",
        f"  ratio: {ratio:.1f}x   (target: <= 2x)",
    ]
