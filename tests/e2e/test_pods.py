"""Annotated Pods into ZooKeeper, against the real API server, ZooKeeper and operator."""
from __future__ import annotations

import json
import time

import kubernetes

from harness import eventually, records_of, zxid

SERVICE = "discovery.asab/service-id"


def record_of(zk, ns, name, timeout=10):
    return eventually(lambda: records_of(zk, ns).get(name), timeout, what=f"the record of {ns}/{name}")


def absent(zk, ns, name, timeout=10):
    eventually(lambda: name not in records_of(zk, ns), timeout, what=f"{ns}/{name} to be withdrawn")


def test_ready_pod_is_advertised_in_asabs_format(env, zk, operator, ns):
    env.create_pod(ns, "web-1", {SERVICE: "shop", "discovery.asab/discovery": '{"team": ["blue"]}'})
    env.set_ready(ns, "web-1", "127.0.0.50")
    record = record_of(zk, ns, "web-1")
    pod = env.core.read_namespaced_pod("web-1", ns)
    assert record == {
        "host": "127.0.0.50", "appclass": "KubernetesPod", "launch_time": "2026-12-03T10:00:00.000000Z",
        "instance_id": "web-1", "node_id": "node-a", "service_id": "shop", "containerized": True,
        "discovery": {"team": ["blue"]}, "web": [["0.0.0.0", 8080]],
        "asab_operator": {"cluster": record["asab_operator"]["cluster"], "kind": "Pod", "namespace": ns,
                          "name": "web-1", "uid": pod.metadata.uid},
    }
    kube_system = env.core.read_namespace("kube-system").metadata.uid
    assert record["asab_operator"]["cluster"] == kube_system
    name = next(n for n, r in harness_children(zk).items() if r.get("asab_operator", {}).get("name") == "web-1"
                and r["asab_operator"]["namespace"] == ns)
    data, stat = zk.get(f"/asab/run/{name}")
    assert stat.ephemeralOwner != 0, "advertisements must be ephemeral"
    assert data == json.dumps(json.loads(data)).encode(), "bytes as ASAB's json.dumps writes them"
    assert zk.get_children(f"/asab/run/{name}") == [], "nothing below a /run child"


def harness_children(zk):
    from harness import run_children
    return run_children(zk)


def test_only_ready_pods_and_readiness_flips(env, zk, operator, ns):
    env.create_pod(ns, "flip", {SERVICE: "flip"})
    env.set_ready(ns, "flip", "127.0.0.51", ready=False)
    env.create_pod(ns, "no-ip", {SERVICE: "flip"})
    env.set_ready(ns, "no-ip", None, ready=True)
    time.sleep(1)
    assert records_of(zk, ns) == {}
    env.set_ready(ns, "flip", "127.0.0.51", ready=True)
    record_of(zk, ns, "flip")
    env.set_ready(ns, "flip", "127.0.0.51", ready=False)
    absent(zk, ns, "flip")
    env.set_ready(ns, "flip", "127.0.0.51", ready=True)
    assert record_of(zk, ns, "flip")["host"] == "127.0.0.51"
    assert "no-ip" not in records_of(zk, ns)


def test_terminating_pod_is_withdrawn_while_it_still_exists(env, zk, operator, ns):
    env.create_pod(ns, "going", {SERVICE: "going"}, node_name="node-a")
    env.set_ready(ns, "going", "127.0.0.53")
    record_of(zk, ns, "going")
    env.delete_pod(ns, "going", grace=30)   # a kubelet would now stop it; none runs here
    assert env.core.read_namespaced_pod("going", ns).metadata.deletion_timestamp is not None
    absent(zk, ns, "going")


def test_deleted_pod_is_withdrawn(env, zk, operator, ns):
    env.create_pod(ns, "gone", {SERVICE: "gone"})
    env.set_ready(ns, "gone", "127.0.0.54")
    record_of(zk, ns, "gone")
    env.delete_pod(ns, "gone", grace=0)
    absent(zk, ns, "gone")


def test_annotation_removed_then_restored_and_changed(env, zk, operator, ns):
    env.create_pod(ns, "opt", {SERVICE: "opt"}, ports=[{"name": "http", "containerPort": 80},
                                                     {"name": "admin", "containerPort": 9000}])
    env.set_ready(ns, "opt", "127.0.0.55")
    record_of(zk, ns, "opt")
    env.annotate(ns, "opt", {SERVICE: None})
    absent(zk, ns, "opt")
    env.annotate(ns, "opt", {SERVICE: "opt", "discovery.asab/port": "admin"})
    eventually(lambda: records_of(zk, ns).get("opt", {}).get("web") == [["0.0.0.0", 9000]],
               what="the record with the admin port")
    env.annotate(ns, "opt", {"discovery.asab/port": "81"})
    eventually(lambda: records_of(zk, ns).get("opt", {}).get("web") == [["0.0.0.0", 81]],
               what="the record with port 81")
    ours = [r for r in harness_children(zk).values() if r.get("asab_operator", {}).get("namespace") == ns]
    assert len(ours) == 1, "a change rewrites the same node, never a second one"


def test_operator_leaves_pods_untouched(env, zk, operator, ns):
    mark = env.audit_mark()
    env.create_pod(ns, "plain", {SERVICE: "plain"})
    env.set_ready(ns, "plain", "127.0.0.56")
    record_of(zk, ns, "plain")
    env.create_pod(ns, "broken", {SERVICE: "broken", "discovery.asab/port": "99999"})
    eventually(lambda: env.warnings(ns, "broken"), what="a Warning Event")
    for name in ("plain", "broken"):
        meta = env.core.read_namespaced_pod(name, ns).metadata
        assert not meta.finalizers
        assert not [k for k in meta.annotations if "kopf" in k]
        assert set(meta.annotations) <= {SERVICE, "discovery.asab/port"}
    writes = env.writes_since(mark)
    assert writes and all(w.startswith("create events ") for w in writes), writes


def test_steady_state_writes_nothing(env, zk, operator, ns):
    for i in range(5):
        env.create_pod(ns, f"idle-{i}", {SERVICE: "idle"})
        env.set_ready(ns, f"idle-{i}", f"127.0.1.{i + 10}")
    env.create_pod(ns, "idle-bad", {SERVICE: "idle", "discovery.asab/discovery": "nope"})
    # Every kind of source at once: a Service, and Advertisements (static, selector, invalid).
    env.core.create_namespaced_service(ns, {"metadata": {"name": "idle", "annotations": {
        SERVICE: "idle", "discovery.asab/mode": "service", "discovery.asab/instance-id": f"idle-{ns}"}},
        "spec": {"ports": [{"name": "http", "port": 80}]}})
    custom = kubernetes.client.CustomObjectsApi(env.api_client)
    for name, spec in (("static", {"host": "127.0.1.30", "port": 80, "instanceId": f"static-{ns}"}),
                       ("selected", {"selector": {"matchLabels": {"idle": "yes"}}}),
                       ("invalid", {"host": "fd00::1", "port": 80})):
        custom.create_namespaced_custom_object("discovery.asab", "v1alpha1", ns, "advertisements", {
            "apiVersion": "discovery.asab/v1alpha1", "kind": "Advertisement", "metadata": {"name": name},
            "spec": {"serviceId": "idle", **spec}})
    env.create_pod(ns, "idle-selected", labels={"idle": "yes"})
    env.set_ready(ns, "idle-selected", "127.0.1.31")
    eventually(lambda: len(records_of(zk, ns)) == 8, what="8 records")
    eventually(lambda: env.warnings(ns, "idle-bad") and env.warnings(ns, "invalid"), what="the Warning Events")
    eventually(lambda: all((custom.get_namespaced_custom_object("discovery.asab", "v1alpha1", ns, "advertisements",
                                                               n).get("status") or {}).get("conditions")
                           for n in ("static", "selected", "invalid")), what="the statuses")
    time.sleep(1)
    before, mark = zxid(env), env.audit_mark()
    writes_before = operator.metric("asab_operator_zookeeper_writes_total")
    time.sleep(12)   # more than two full reconciles at --reconcile-period 5
    assert zxid(env) == before, "ZooKeeper saw a write while nothing changed"
    assert env.writes_since(mark) == [], "the operator wrote to Kubernetes while nothing changed"
    assert operator.metric("asab_operator_zookeeper_writes_total") == writes_before
    assert operator.metric("asab_operator_reconcile_duration_seconds_count") >= 2


def test_restart_restores_without_duplicates(env, zk, operator_slot, ns):
    operator_slot.process.wait_ready()
    for i in range(3):
        env.create_pod(ns, f"r-{i}", {SERVICE: "restart"})
        env.set_ready(ns, f"r-{i}", f"127.0.2.{i + 10}")
    eventually(lambda: len(records_of(zk, ns)) == 3, what="3 records")
    operator_slot.stop()          # a clean stop closes the session: the records go at once
    eventually(lambda: records_of(zk, ns) == {}, 5, what="records to go with the session")
    operator_slot.start()
    eventually(lambda: len(records_of(zk, ns)) == 3, what="3 records again")
    names = [n for n, r in harness_children(zk).items() if r.get("asab_operator", {}).get("namespace") == ns]
    assert len(names) == 3
