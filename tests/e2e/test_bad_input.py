"""Malformed annotations: a Warning Event naming the annotation, a log line, and nothing else lost."""
from __future__ import annotations

import pytest

from harness import eventually, records_of

SERVICE = "discovery.asab/service-id"
PORT = "discovery.asab/port"
DISCOVERY = "discovery.asab/discovery"

CASES = [
    ("port-not-a-number", {PORT: "eighty"}, PORT),
    ("port-zero", {PORT: "0"}, PORT),
    ("port-too-big", {PORT: "70000"}, PORT),
    ("port-unknown-name", {PORT: "grpc"}, PORT),
    ("discovery-not-json", {DISCOVERY: "{team: blue}"}, DISCOVERY),
    ("discovery-a-list", {DISCOVERY: '["blue"]'}, DISCOVERY),
    ("discovery-string-ids", {DISCOVERY: '{"team": "blue"}'}, DISCOVERY),
    ("discovery-dotted-type", {DISCOVERY: '{"my.team": ["blue"]}'}, DISCOVERY),
    ("discovery-bad-id", {DISCOVERY: '{"team": ["Blue Team"]}'}, DISCOVERY),
    ("service-id-uppercase", {SERVICE: "Shop"}, SERVICE),
    ("service-id-spaces", {SERVICE: "my shop"}, SERVICE),
    ("instance-id-bad", {"discovery.asab/instance-id": "a/b"}, "discovery.asab/instance-id"),
    ("host-mode-unknown", {"discovery.asab/host": "hostname"}, "discovery.asab/host"),
    ("typo-key", {"discovery.asab/serviceid": "shop"}, "discovery.asab/serviceid"),
    ("no-service-id", {SERVICE: None, PORT: "8080"}, SERVICE),
    ("port-unicode-digit", {PORT: "8\u00b2"}, PORT),
    ("discovery-nested-deep", {DISCOVERY: '{"t":' + "[" * 2000 + "]" * 2000 + "}"}, DISCOVERY),
    ("discovery-trailing-newline", {DISCOVERY: '{"team": ["blue\\n"]}'}, DISCOVERY),
    ("discovery-duplicate-type", {DISCOVERY: '{"team": ["a"], "team": ["b"]}'}, DISCOVERY),
]


@pytest.mark.parametrize("name, bad, field", CASES, ids=[c[0] for c in CASES])
def test_bad_annotation_is_reported_and_loses_nothing_else(env, zk, operator, ns, name, bad, field):
    env.create_pod(ns, "good", {SERVICE: "good"})
    env.set_ready(ns, "good", "127.0.3.10")
    good = eventually(lambda: records_of(zk, ns).get("good"), what="the good record")
    good_node = next(n for n in zk.get_children("/asab/run") if n.endswith(f"~{ns}~good"))
    _, good_stat = zk.get(f"/asab/run/{good_node}")

    annotations = {SERVICE: "bad", **bad}
    env.create_pod(ns, name, {k: v for k, v in annotations.items() if v is not None})
    env.set_ready(ns, name, "127.0.3.11")
    warnings = eventually(lambda: env.warnings(ns, name), what="a Warning Event")
    assert any(w.startswith("InvalidAnnotation:") and field in w for w in warnings), warnings
    eventually(lambda: f"{ns}/{name}" in operator.log() and field in operator.log(), what="the log line")
    assert name not in records_of(zk, ns)
    assert records_of(zk, ns)["good"] == good
    assert zk.get(f"/asab/run/{good_node}")[1].mzxid == good_stat.mzxid, "the good node was rewritten"


def test_valid_pod_turning_bad_is_withdrawn_alone_and_comes_back(env, zk, operator, ns):
    for pod in ("steady", "changing"):
        env.create_pod(ns, pod, {SERVICE: pod})
    env.set_ready(ns, "steady", "127.0.3.20")
    env.set_ready(ns, "changing", "127.0.3.21")
    eventually(lambda: len(records_of(zk, ns)) == 2, what="2 records")
    steady = records_of(zk, ns)["steady"]
    env.annotate(ns, "changing", {PORT: "not a port"})
    eventually(lambda: "changing" not in records_of(zk, ns), what="the bad pod to be withdrawn")
    assert any(PORT in w for w in env.warnings(ns, "changing"))
    env.annotate(ns, "changing", {PORT: None})
    eventually(lambda: "changing" in records_of(zk, ns), what="the fixed pod to come back")
    assert records_of(zk, ns)["steady"] == steady


def test_duplicate_instance_id_older_wins_younger_is_warned(env, zk, operator, ns):
    claim = {SERVICE: "dup", "discovery.asab/instance-id": f"dup-{ns}"}
    env.create_pod(ns, "first", claim)
    env.set_ready(ns, "first", "127.0.3.30")
    eventually(lambda: "first" in records_of(zk, ns), what="the first claim")
    import time
    time.sleep(1.1)   # creationTimestamp has one-second resolution
    env.create_pod(ns, "second", claim)
    env.set_ready(ns, "second", "127.0.3.31")
    warning = eventually(lambda: env.warnings(ns, "second"), what="a DuplicateInstanceId warning")
    assert any(w.startswith("DuplicateInstanceId:") and f"Pod {ns}/first" in w for w in warning), warning
    time.sleep(1)
    assert set(records_of(zk, ns)) == {"first"}
    env.delete_pod(ns, "first")
    eventually(lambda: set(records_of(zk, ns)) == {"second"}, what="the second claim to take over")


def test_ipv6_only_pod_is_reported_not_advertised(env, zk, operator, ns):
    env.create_pod(ns, "v6", {SERVICE: "v6"})
    env.core.patch_namespaced_pod_status("v6", ns, {"status": {
        "podIP": "fd00::5", "conditions": [{"type": "Ready", "status": "True"}]}})
    warnings = eventually(lambda: env.warnings(ns, "v6"), what="a Warning Event")
    assert any("status.podIPs" in w and "IPv6" in w for w in warnings), warnings
    assert "v6" not in records_of(zk, ns)


def test_a_pod_that_cannot_be_processed_does_not_stall_the_rest(env, zk, operator, ns):
    """A bad value turning up later withdraws that Pod's old record and nothing else."""
    for name in ("stays", "turns-bad"):
        env.create_pod(ns, name, {SERVICE: name})
    env.set_ready(ns, "stays", "127.0.3.40")
    env.set_ready(ns, "turns-bad", "127.0.3.41")
    eventually(lambda: set(records_of(zk, ns)) == {"stays", "turns-bad"}, what="both records")
    env.annotate(ns, "turns-bad", {PORT: "8\u00b2"})
    eventually(lambda: set(records_of(zk, ns)) == {"stays"}, what="the bad Pod withdrawn")
    assert operator.readiness()[0] == 200
