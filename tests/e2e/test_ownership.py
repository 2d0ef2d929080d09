"""Ownership: an operator changes only nodes that carry its own cluster identity."""
from __future__ import annotations

import json
import signal
import time
import uuid

import harness
from harness import eventually

SERVICE = "discovery.asab/service-id"


def start(env, log_dir, path, cluster, name):
    operator = harness.Operator(env, log_dir, "--zookeeper-path", path, "--cluster-id", cluster,
                                "--reconcile-period", "2", name=name)
    operator.wait_ready()
    return operator


def stats(zk, run, ns=""):
    """mzxid (the last change) of each node, or only of the nodes for objects in `ns`."""
    return {name: zk.get(f"{run}/{name}")[1].mzxid for name in zk.get_children(run) if f"~{ns}~" in name or not ns}


def test_two_identities_on_one_path_never_disturb_each_other(env, zk, log_dir, ns):
    path = f"own-{uuid.uuid4().hex[:8]}"
    run = f"/{path}/run"
    first = start(env, log_dir, path, "cluster-one", f"{path}-one")
    second = start(env, log_dir, path, "cluster-two", f"{path}-two")
    try:
        for i in range(2):
            env.create_pod(ns, f"p-{i}", {SERVICE: f"svc-{ns}"})
            env.set_ready(ns, f"p-{i}", f"127.0.7.{i + 10}")
        eventually(lambda: len(stats(zk, run, ns)) == 4, what="two records per Pod, one per operator")
        cluster_of = {n: json.loads(zk.get(f"{run}/{n}")[0])["asab_operator"]["cluster"] for n in stats(zk, run, ns)}
        assert sorted(cluster_of.values()) == ["cluster-one", "cluster-one", "cluster-two", "cluster-two"]
        before = stats(zk, run, ns)
        second.stop(signal.SIGKILL)   # its nodes stay until its session expires (10 s)
        time.sleep(5)                 # two full reconciles of the first operator with them present
        assert stats(zk, run, ns) == before, "the first operator changed or deleted a node of the second"
    finally:
        first.stop()
        second.stop()


def test_foreign_nodes_are_never_touched(env, zk, log_dir, ns):
    path = f"own-{uuid.uuid4().hex[:8]}"
    run = f"/{path}/run"
    zk.ensure_path(run)
    cluster = "cluster-mine"
    tag = __import__("asab_operator.record", fromlist=["Identity"]).Identity(cluster).tag
    asab_own = zk.create(f"{run}/ASABMyApplication.", b'{"host": "vm", "appclass": "ASABMyApplication", '
                         b'"instance_id": "vm-1", "service_id": "vm", "web": [["0.0.0.0", 8080]]}',
                         ephemeral=True, sequence=True).rsplit("/", 1)[1]
    zk.create(f"{run}/other-cluster", json.dumps({"host": "10.0.0.1", "web": [["0.0.0.0", 80]],
                                                  "asab_operator": {"cluster": "someone-else"}}).encode())
    zk.create(f"{run}/junk", b"not json")
    squatted = f"k8s~{tag}~pod~{ns}~squatted"
    zk.create(f"{run}/{squatted}", b'{"host": "10.0.0.2", "web": [["0.0.0.0", 80]]}')   # our name, not our marker
    before = stats(zk, run)
    operator = start(env, log_dir, path, cluster, f"{path}-mine")
    try:
        env.create_pod(ns, "squatted", {SERVICE: f"svc-{ns}"})
        env.create_pod(ns, "fine", {SERVICE: f"svc-{ns}"})
        env.set_ready(ns, "squatted", "127.0.7.20")
        env.set_ready(ns, "fine", "127.0.7.21")
        eventually(lambda: f"k8s~{tag}~pod~{ns}~fine" in zk.get_children(run), what="the unhindered Pod")
        eventually(lambda: "is not ours; left alone" in operator.log(), what="the conflict in the log")
        time.sleep(4.5)        # two full reconciles
        after = stats(zk, run)
        assert {n: after.get(n) for n in before} == before, "a foreign node was changed or deleted"
        assert asab_own in after
        assert operator.metric("asab_operator_errors_total", 'kind="name_conflict"') >= 1
    finally:
        operator.stop()
        for name in ("other-cluster", "junk", squatted):
            zk.delete(f"{run}/{name}")
