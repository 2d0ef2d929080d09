"""Faults, each against the real parts: ZooKeeper session expiry and outage, a stale node
from an earlier session, an API server restart, and an operator killed with SIGKILL.

Each test runs an operator of its own, on its own ZooKeeper path and with its own
cluster identity, so that it can be paused, killed or cut off without touching the
rest of the suite.
"""
from __future__ import annotations

import signal
import time
import uuid

import pytest

import harness
import localenv
from harness import eventually, records_of

SERVICE = "discovery.asab/service-id"


@pytest.fixture
def isolated(env, log_dir):
    """Start operators on a fresh path with a fresh identity: `start(*flags)`."""
    path = f"fault-{uuid.uuid4().hex[:8]}"
    cluster = f"cluster-{uuid.uuid4().hex[:8]}"
    started: list[harness.Operator] = []

    def start(*flags: str) -> harness.Operator:
        operator = harness.Operator(env, log_dir, "--zookeeper-path", path, "--cluster-id", cluster,
                                    "--reconcile-period", "5", *flags, name=f"{path}-{len(started)}")
        started.append(operator)
        operator.wait_ready()
        return operator

    start.run = f"/{path}/run"
    yield start
    for operator in started:
        if operator.alive():
            operator.proc.send_signal(signal.SIGCONT)
        operator.stop()


def ready_pods(env, ns, count, prefix="p"):
    for i in range(count):
        env.create_pod(ns, f"{prefix}-{i}", {SERVICE: f"svc-{ns}"})
        env.set_ready(ns, f"{prefix}-{i}", f"127.0.4.{i + 10}")


def owners(zk, run, ns):
    """The session holding each of our nodes for objects in `ns` (a node may go while we read)."""
    found = {}
    for name in zk.get_children(run):
        stat = zk.exists(f"{run}/{name}")
        if f"~{ns}~" in name and stat is not None:
            found[name] = stat.ephemeralOwner
    return found


def test_session_expiry_restores_every_record_with_its_newest_data(env, zk, ns, isolated):
    operator = isolated("--session-timeout", "2")
    ready_pods(env, ns, 3)
    eventually(lambda: len(records_of(zk, ns, isolated.run)) == 3, what="3 records")
    operator.proc.send_signal(signal.SIGSTOP)       # a stalled process: its session expires
    try:
        eventually(lambda: records_of(zk, ns, isolated.run) == {}, 20, 0.1,
                   "ZooKeeper to expire the paused operator's session")
        env.annotate(ns, "p-0", {"discovery.asab/port": "81"})   # changed while it cannot see
    finally:
        operator.proc.send_signal(signal.SIGCONT)
    resumed = time.monotonic()
    records = eventually(lambda: (r := records_of(zk, ns, isolated.run)) and len(r) == 3
                         and r["p-0"]["web"] == [["0.0.0.0", 81]] and r, 10, 0.05,
                         "every record back, p-0 with port 81")
    assert set(records) == {"p-0", "p-1", "p-2"}
    restored_after = time.monotonic() - resumed
    assert operator.log().count("session 0x") >= 2, "a new session was established"
    print(f"restored {len(records)} records {restored_after:.2f} s after the operator resumed")


def test_stale_nodes_from_a_killed_operator_are_replaced_not_skipped(env, zk, ns, isolated):
    first = isolated("--session-timeout", "8")
    ready_pods(env, ns, 3)
    eventually(lambda: len(records_of(zk, ns, isolated.run)) == 3, what="3 records")
    old = owners(zk, isolated.run, ns)
    first.stop(signal.SIGKILL)      # its session, and its ephemeral nodes, live on for 8 s
    assert owners(zk, isolated.run, ns) == old
    isolated("--session-timeout", "8")
    seen = {}

    def replaced():
        seen["now"] = now = owners(zk, isolated.run, ns)
        return len(now) == 3 and not set(now.values()) & set(old.values())
    try:
        eventually(replaced, 8, 0.05, "the new operator to replace the nodes its killed predecessor held")
    except AssertionError as error:
        raise AssertionError(f"{error}; before: {old}; last seen: {seen.get('now')}") from None
    time.sleep(9)                   # the killed operator's session has expired by now
    final = owners(zk, isolated.run, ns)
    assert set(final) == set(old), "exactly the same nodes, no duplicates, none lost"
    assert len(set(final.values())) == 1 and not set(final.values()) & set(old.values())


def test_zookeeper_outage_longer_than_the_session(env, zk, ns, isolated):
    operator = isolated("--session-timeout", "2")
    ready_pods(env, ns, 2)
    eventually(lambda: len(records_of(zk, ns, isolated.run)) == 2, what="2 records")
    localenv.stop_zookeeper()
    try:
        eventually(lambda: (r := operator.readiness()) is not None and r[0] == 503, 15, 0.1,
                   "the operator to report not-ready")
        time.sleep(3)               # longer than the session timeout
        env.create_pod(ns, "p-2", {SERVICE: f"svc-{ns}"})
        env.set_ready(ns, "p-2", "127.0.4.30")
        time.sleep(1)
        assert operator.alive(), "the operator must stay up while ZooKeeper is down"
        status, body = operator.readiness()
        assert status == 503 and body["checks"]["zookeeper_connected"] is False
    finally:
        localenv.resume_zookeeper()
    operator.wait_ready(30)
    eventually(lambda: set(records_of(zk, ns, isolated.run)) == {"p-0", "p-1", "p-2"}, 20, 0.1,
               "every record, including the Pod made Ready during the outage")
    assert operator.metric("asab_operator_zookeeper_connected") == 1


def test_api_server_restart_resumes_watches_and_catches_missed_deletes(env, zk, ns, isolated):
    operator = isolated()
    ready_pods(env, ns, 2)
    eventually(lambda: len(records_of(zk, ns, isolated.run)) == 2, what="2 records")
    operator.proc.send_signal(signal.SIGSTOP)   # so that its watch cannot see what happens next
    try:
        localenv.restart_apiserver()
        eventually(lambda: env.delete_pod(ns, "p-0") or True, 30, 0.5, "the deletion to go through")
        eventually(lambda: ns and not [p for p in env.core.list_namespaced_pod(ns).items
                                       if p.metadata.name == "p-0"], 10, what="p-0 to be gone")
    finally:
        operator.proc.send_signal(signal.SIGCONT)
    eventually(lambda: "p-0" not in records_of(zk, ns, isolated.run), 20, 0.1,
               "the Pod deleted while the watch was down to be withdrawn")
    env.create_pod(ns, "p-9", {SERVICE: f"svc-{ns}"})
    env.set_ready(ns, "p-9", "127.0.4.39")
    eventually(lambda: set(records_of(zk, ns, isolated.run)) == {"p-1", "p-9"}, 20, 0.1,
               "the resumed watch to advertise a new Pod")
