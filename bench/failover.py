"""Two replicas with 500 annotated Pods advertised; the leader is killed with SIGKILL.

The standby can take over only once ZooKeeper has expired the leader's session (that is
the fence). Measured: from the kill to the old records vanishing (the session timeout),
from there to all 500 records back under the new leader's session, and that second part
next to a bare kazoo create of the same 500 records in the same run. The target: every
advertisement back within the session timeout plus 2 s of the kill.
"""
from __future__ import annotations

import signal
import threading
import time
import uuid

from common import harness
from steady_and_expiry import bare_create, ours, prepare

SESSION = 4


def run(env, log_dir, count: int = 500) -> dict:
    path = f"bench-ha-{uuid.uuid4().hex[:6]}"
    run_path = f"/{path}/run"
    zk = env.zk()
    replicas = [harness.Operator(env, log_dir, "--zookeeper-path", path, "--cluster-id", path,
                                 "--session-timeout", str(SESSION), "--key-keeper", "off",
                                 "--instance-name", name, name=f"bench-{name}")
                for name in ("replica-a", "replica-b")]
    namespace = None
    try:
        for replica in replicas:
            replica.wait_ready()
        leader, standby = sorted(replicas, key=lambda r: -r.metric("asab_operator_leader"))
        assert leader.metric("asab_operator_leader") == 1 and standby.metric("asab_operator_leader") == 0
        namespace = prepare(env, count)
        harness.eventually(lambda: zk.exists(run_path) and len(ours(zk, run_path, namespace)) == count,
                            120, 0.1, f"{count} records")
        records = {n: zk.get(f"{run_path}/{n}")[0] for n in ours(zk, run_path, namespace)}
        old_session = zk.exists(f"{run_path}/{next(iter(records))}").ephemeralOwner
        time.sleep(2)
        gone, back = threading.Event(), threading.Event()

        def watch(children):
            mine = [c for c in children if f"~{namespace}~" in c]
            if not gone.is_set() and not mine:
                gone.at = time.perf_counter()
                gone.set()
            elif gone.is_set() and len(mine) == count:
                back.at = time.perf_counter()
                back.set()
                return False
        zk.ChildrenWatch(run_path, watch)
        killed = time.perf_counter()
        leader.stop(signal.SIGKILL)
        assert back.wait(SESSION + 60), "the standby did not restore the records"
        sessions = {zk.exists(f"{run_path}/{n}").ephemeralOwner for n in ours(zk, run_path, namespace)}
        assert len(sessions) == 1 and old_session not in sessions
        return {"count": count, "expired": gone.at - killed, "restored": back.at - gone.at,
                "total": back.at - killed, "bare": bare_create(env, zk, records)}
    finally:
        for replica in replicas:
            replica.stop()
        if namespace:
            env.clean_namespace(namespace)
        zk.stop()
        zk.close()


def report(result: dict) -> list[str]:
    return [
        f"Failover: the leader of 2 replicas killed (SIGKILL) with {result['count']} advertisements, "
        f"session timeout {SESSION} s",
        f"  kill -> old session expired (its records gone): {result['expired']:6.2f} s",
        f"  expired -> all back from the new leader:    {result['restored'] * 1000:8.1f} ms",
        f"  bare kazoo create of the same:              {result['bare'] * 1000:8.1f} ms   "
        f"ratio {result['restored'] / result['bare']:.1f}x",
        f"  kill -> all back: {result['total']:.2f} s   (target: <= session timeout + 2 s = {SESSION + 2} s)",
    ]
