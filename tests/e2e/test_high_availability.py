"""Two replicas, one writer: a ZooKeeper election with fencing, against the real parts.

The replicas here run on a ZooKeeper chroot of their own, with distinct instance names
(as two Pods of one Deployment have), and the session's operator is stopped meanwhile: it
would project the same Projections from another /run.
"""
from __future__ import annotations

import json
import signal
import time
import uuid

import kubernetes
import pytest
from kazoo.client import KazooClient

import harness
from harness import eventually, records_of

SESSION = 4      # seconds: the replicas' ZooKeeper session timeout
SERVICE = "discovery.asab/service-id"


class Pair:
    def __init__(self, env, log_dir) -> None:
        self.env, self.log_dir = env, log_dir
        self.tag = uuid.uuid4().hex[:8]
        chroot = f"/ha-{self.tag}"
        root = env.zk()
        root.ensure_path(chroot + "/asab/run")
        root.stop()
        self.zookeeper = env.zookeeper + chroot
        self.zk = KazooClient(hosts=self.zookeeper, connection_retry={"max_tries": -1, "max_delay": 1})
        self.zk.start(timeout=15)
        self.started: list[harness.Operator] = []

    def start(self, name: str) -> harness.Operator:
        operator = harness.Operator(
            self.env, self.log_dir, "--reconcile-period", "5", "--session-timeout", str(SESSION),
            "--instance-name", name, "--key-keeper", "off", "--projection-grace-period", "60",
            zookeeper=self.zookeeper, name=f"ha-{self.tag}-{name}")
        self.started.append(operator)
        operator.wait_ready()
        return operator

    def close(self) -> None:
        for operator in self.started:
            if operator.alive():
                operator.proc.send_signal(signal.SIGCONT)
            operator.stop()
        self.zk.stop()
        self.zk.close()


@pytest.fixture
def pair(env, log_dir, operator_slot):
    operator_slot.stop()
    setup = Pair(env, log_dir)
    yield setup
    setup.close()


def leads(operator: harness.Operator) -> bool:
    status, body = operator.readiness() or (None, {})
    return operator.metric("asab_operator_leader") == 1 and status == 200 and body["leader"] is True


def owners(zk, ns) -> dict[str, int]:
    """The session holding each of our nodes for objects in `ns`."""
    found = {}
    for name in zk.get_children("/asab/run"):
        stat = zk.exists(f"/asab/run/{name}")
        if f"~{ns}~" in name and stat is not None:
            found[name] = stat.ephemeralOwner
    return found


def writes(operator: harness.Operator) -> float:
    return operator.metric("asab_operator_zookeeper_writes_total") + \
        operator.metric("asab_operator_kubernetes_writes_total")


def endpoints(env, ns, service_name) -> set[tuple[str, int]]:
    found = set()
    for item in kubernetes.client.DiscoveryV1Api(env.api_client).list_namespaced_endpoint_slice(
            ns, label_selector=f"kubernetes.io/service-name={service_name}").items:
        for endpoint in item.endpoints or ():
            found |= {(address, item.ports[0].port) for address in endpoint.addresses}
    return found


def project(env, ns, sid) -> None:
    kubernetes.client.CustomObjectsApi(env.api_client).create_namespaced_custom_object(
        "discovery.asab", "v1alpha1", ns, "projections",
        {"apiVersion": "discovery.asab/v1alpha1", "kind": "Projection", "metadata": {"name": "mirror"},
         "spec": {"ids": [sid]}})


def external_record(pair: Pair, name: str, sid: str, host: str) -> None:
    """An ASAB instance outside the cluster, as its own ZooKeeper session would write it."""
    record = {"appclass": "ASABApp", "launch_time": "2026-12-03T10:00:00Z", "process_id": 1, "host": host,
              "instance_id": name, "service_id": sid, "web": [["0.0.0.0", 8080]]}
    pair.zk.create(f"/asab/run/{name}", json.dumps(record).encode(), ephemeral=True)


def two_replicas_with_work(env, pair: Pair, ns: str):
    first = pair.start("replica-a")
    eventually(lambda: leads(first), 20, 0.1, "the first replica to lead")
    second = pair.start("replica-b")
    assert not leads(second), "the second replica must stand by"
    for i in range(3):
        env.create_pod(ns, f"p-{i}", {SERVICE: f"svc-{ns}"})
        env.set_ready(ns, f"p-{i}", f"10.20.0.{i + 10}")
    sid = f"ext-{ns}"
    project(env, ns, sid)
    external_record(pair, f"ext-1-{ns}", sid, "10.21.0.1")
    eventually(lambda: len(records_of(pair.zk, ns)) == 3, 20, 0.1, "3 records from the leader")
    eventually(lambda: endpoints(env, ns, sid) == {("10.21.0.1", 8080)}, 20, 0.1, "the projection")
    held = owners(pair.zk, ns)
    assert len(set(held.values())) == 1, f"one session writes: {held}"
    assert writes(second) == 0, "the standby wrote"
    assert "standby; the leader or the next in line is replica-a" in second.log()
    return first, second, sid, set(held.values()).pop()


def test_standby_takes_over_after_the_leader_is_killed(env, pair, ns):
    first, second, sid, old_session = two_replicas_with_work(env, pair, ns)
    first.stop(signal.SIGKILL)
    killed = time.monotonic()

    def taken_over():
        now = owners(pair.zk, ns)
        return len(now) == 3 and old_session not in now.values() and len(set(now.values())) == 1
    eventually(taken_over, SESSION + 30, 0.05, "the standby to restore every advertisement")
    advertised = time.monotonic() - killed
    assert leads(second)
    assert endpoints(env, ns, sid) == {("10.21.0.1", 8080)}, "the projection stayed"
    # The new leader's projection works: a new instance appears, and its status is its own.
    external_record(pair, f"ext-2-{ns}", sid, "10.21.0.2")
    eventually(lambda: endpoints(env, ns, sid) == {("10.21.0.1", 8080), ("10.21.0.2", 8080)}, 20, 0.05,
               "the new leader to project a new instance")
    projected = time.monotonic() - killed
    env.delete_pod(ns, "p-0")
    eventually(lambda: set(records_of(pair.zk, ns)) == {"p-1", "p-2"}, 20, 0.05, "the new leader to withdraw")
    names = [n for n in pair.zk.get_children("/asab/run") if f"~{ns}~" in n]
    assert len(names) == 2, f"no duplicates: {names}"
    print(f"session timeout {SESSION} s: every advertisement back {advertised:.2f} s after SIGKILL, "
          f"a new instance projected after {projected:.2f} s")


def test_a_paused_leader_cannot_write_after_losing_its_session(env, pair, ns):
    first, second, sid, old_session = two_replicas_with_work(env, pair, ns)
    written_by_first = writes(first)
    first.proc.send_signal(signal.SIGSTOP)      # paused past its session: as good as partitioned
    try:
        eventually(lambda: leads(second), SESSION + 30, 0.1, "the standby to lead")
        eventually(lambda: len(o := owners(pair.zk, ns)) == 3 and old_session not in o.values(), 20, 0.05,
                   "the new leader's nodes")
        env.annotate(ns, "p-0", {"discovery.asab/port": "81"})
        env.delete_pod(ns, "p-1")
        eventually(lambda: (r := records_of(pair.zk, ns)).keys() == {"p-0", "p-2"}
                   and r["p-0"]["web"] == [["0.0.0.0", 81]], 20, 0.05, "the new leader to apply the changes")
        before = writes(second)
    finally:
        first.proc.send_signal(signal.SIGCONT)
    eventually(lambda: "is no longer the leader" in first.log(), 20, 0.1, "the old leader to step down")
    time.sleep(SESSION + 2)       # its reconcile (every 5 s) and its Pod watch had their chance
    assert not leads(first) and leads(second)
    assert writes(first) == written_by_first, "the old leader wrote after it resumed"
    records = records_of(pair.zk, ns)
    assert records.keys() == {"p-0", "p-2"} and records["p-0"]["web"] == [["0.0.0.0", 81]]
    sessions = set(owners(pair.zk, ns).values())
    assert len(sessions) == 1 and old_session not in sessions
    assert endpoints(env, ns, sid) == {("10.21.0.1", 8080)}
    assert writes(second) >= before
    assert "standby; the leader or the next in line is replica-b" in first.log()
