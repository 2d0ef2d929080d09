"""Projection (ZooKeeper -> Kubernetes) against the real parts: real ASAB applications and
hand-written records in a real ZooKeeper, headless Services and EndpointSlices in a real
API server.

The tests here run their own operator on a ZooKeeper chroot of their own: malformed
records in /run break every real ASAB client that reads that /run (the contract,
section 2), and the session's ASAB peer must not be one of them.
"""
from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.request
import uuid

import kubernetes
import pytest
from kazoo.client import KazooClient

import harness
from harness import eventually

GROUP, VERSION, PLURAL = "discovery.asab", "v1alpha1", "projections"
GRACE = 3


def host_address() -> str | None:
    """This machine's non-loopback IPv4 address (EndpointSlices refuse loopback ones)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))   # no packet is sent: it only picks a route
        address = probe.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


class Lone:
    """An operator of the module's own, on a ZooKeeper chroot of its own."""

    def __init__(self, env, log_dir, operator_slot):
        self.env, self.log_dir = env, log_dir
        self.chroot = f"/projection-{uuid.uuid4().hex[:8]}"
        self.zookeeper = env.zookeeper + self.chroot
        root = env.zk()
        root.ensure_path(self.chroot + "/asab/run")
        root.stop()
        self.zk = KazooClient(hosts=self.zookeeper, connection_retry={"max_tries": -1, "max_delay": 1})
        self.zk.start(timeout=15)
        operator_slot.stop()    # it would project the same Projections from another /run
        self.count = 0
        self.process = self.start()

    def start(self, *args: str, **settings) -> harness.Operator:
        self.count += 1
        process = harness.Operator(self.env, self.log_dir, "--reconcile-period", "5",
                                   "--projection-grace-period", str(GRACE), "--key-keeper", "off", *args,
                                   zookeeper=self.zookeeper, name=f"projector-{self.count}", **settings)
        process.wait_ready()
        return process

    def record(self, name: str, ephemeral: bool = True, **record) -> str:
        data = record.pop("_raw", None)
        path = f"/asab/run/{name}"
        self.zk.create(path, data if data is not None else json.dumps(record).encode(), ephemeral=ephemeral)
        return path


@pytest.fixture(scope="module")
def lone(env, log_dir, operator_slot):
    setup = Lone(env, log_dir, operator_slot)
    yield setup
    if setup.process.alive():
        setup.process.stop()
    setup.zk.stop()
    setup.zk.close()


def custom(env):
    return kubernetes.client.CustomObjectsApi(env.api_client)


def discovery_api(env):
    return kubernetes.client.DiscoveryV1Api(env.api_client)


def project(env, ns, name, **spec):
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Projection", "metadata": {"name": name}, "spec": spec}
    return custom(env).create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)


def projection(env, ns, name):
    return custom(env).get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)


def service(env, ns, name):
    try:
        return env.core.read_namespaced_service(name, ns)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return None
        raise


def endpoints(env, ns, service_name) -> dict[tuple[str, int], str]:
    """(address, port) -> hostname, over every slice of the Service."""
    found = {}
    for item in discovery_api(env).list_namespaced_endpoint_slice(
            ns, label_selector=f"kubernetes.io/service-name={service_name}").items:
        for endpoint in item.endpoints or ():
            for address in endpoint.addresses:
                found[(address, item.ports[0].port)] = endpoint.hostname
    return found


def slices(env, ns, service_name):
    return discovery_api(env).list_namespaced_endpoint_slice(
        ns, label_selector=f"kubernetes.io/service-name={service_name}").items


def asab(**fields):
    return {"appclass": "ASABApp", "launch_time": "2026-12-03T10:00:00Z", "process_id": 1, **fields}


def test_real_asab_applications_become_headless_services_that_reach_them(env, log_dir, lone, ns):
    address = host_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address for the apps to be reached on")
    sid = f"shop-{ns}"
    project(env, ns, "shop", ids=[sid])
    apps = [harness.AsabPeer(env, log_dir, zookeeper=lone.zookeeper, listen=listen, name=f"shop-{n}",
                             SERVICE_ID=sid, INSTANCE_ID=f"shop-{n}", ASAB_HOSTNAME=address)
            for n, listen in (("1", "0.0.0.0 {port}"), ("2", "{port}"), ("3", "127.0.0.1 {port}"))]
    try:
        wanted = {(address, apps[0].port): "shop-1", (address, apps[1].port): "shop-2"}  # shop-3: a specific address
        eventually(lambda: endpoints(env, ns, sid) == wanted, 20, 0.1, "both reachable apps in the slices")
        svc = service(env, ns, sid)
        assert svc.spec.cluster_ip == "None" and not svc.spec.selector
        assert [p.name for p in svc.spec.ports] == ["web"]
        assert svc.metadata.labels["app.kubernetes.io/managed-by"] == "asab-discovery-operator"
        owner = svc.metadata.owner_references[0]
        assert (owner.kind, owner.name) == ("Projection", "shop")
        for item in slices(env, ns, sid):
            assert item.address_type == "IPv4"
            assert item.metadata.labels["endpointslice.kubernetes.io/managed-by"] == \
                "asab-discovery-operator.discovery.asab"
        for (ip, port) in wanted:       # what a Kubernetes-native client would do with the slice
            with urllib.request.urlopen(f"http://{ip}:{port}/peer/locate?service_id={sid}", timeout=5) as reply:
                assert reply.status == 200
        status = eventually(lambda: (s := projection(env, ns, "shop").get("status")) and s.get("projectedCount") == 1
                            and s, what="the status")
        assert status["projected"] == [{"id": sid, "service": sid, "endpoints": 2}]
        assert status["conditions"][0]["status"] == "True"

        apps[0].stop()
        eventually(lambda: endpoints(env, ns, sid) == {(address, apps[1].port): "shop-2"}, 20, 0.1,
                   "the stopped app's endpoint to go")
    finally:
        for app in apps:
            app.stop()


def test_hand_written_records_follow_asabs_rules(env, lone, ns):
    sid = f"rec-{ns}"
    project(env, ns, "records", patterns=[f"rec-{ns}*"])
    lone.record(f"a-{ns}", **asab(host="10.1.0.1", instance_id="a1", service_id=sid, web=[["0.0.0.0", 8080]]))
    lone.record(f"b-{ns}", **asab(host="fd00::10", instance_id="b1", service_id=sid, web=[["::", 8080, 0, 0]]))
    lone.record(f"c-{ns}", **asab(host="10.1.0.3", instance_id="c1", service_id=sid,
                                  web=[["127.0.0.1", 9000], ["0.0.0.0", 8080], ["0.0.0.0", 8080]]))
    lone.record(f"d-{ns}", **asab(host="10.1.0.4", instance_id="d1", service_id=sid, web=[["10.1.0.4", 8080]]))
    lone.record(f"e-{ns}", _raw=b"{not json")
    lone.record(f"f-{ns}", _raw=b'["a list"]')
    lone.record(f"g-{ns}", **asab(host="10.1.0.7", instance_id="g1", service_id=sid, web=None))
    lone.record(f"h-{ns}", **asab(instance_id="h1", service_id=sid, web=[["0.0.0.0", 8080]]))
    lone.record(f"i-{ns}", **asab(host="localhost", instance_id="i1", service_id=sid, web=[["0.0.0.0", 8080]]))
    lone.record(f"j-{ns}", **asab(host="nowhere.invalid", instance_id="j1", service_id=sid, web=[["0.0.0.0", 8080]]))
    lone.record(f"k-{ns}", **asab(host="10.1.0.11", instance_id="My_Odd.Instance", service_id=f"{sid}-x",
                                  web=[["0.0.0.0", 81]]))
    wanted = {("10.1.0.1", 8080): "a1", ("fd00::10", 8080): "b1", ("10.1.0.3", 8080): "c1"}
    eventually(lambda: endpoints(env, ns, sid) == wanted, 20, 0.1, "the usable records, and only them")
    by_type = {s.address_type: s for s in slices(env, ns, sid)}
    assert set(by_type) == {"IPv4", "IPv6"}
    odd = eventually(lambda: endpoints(env, ns, f"{sid}-x"), 20, 0.1, "the odd instance's Service")
    [(key, hostname)] = odd.items()
    assert key == ("10.1.0.11", 81) and hostname.startswith("my-odd-instance") and len(hostname) <= 63
    status = eventually(lambda: (s := projection(env, ns, "records").get("status")) and s.get("projectedCount") == 2
                        and s.get("skippedCount") == 2 and s, what="the status")
    reasons = {s["subject"]: s["reason"] for s in status["skipped"]}
    assert "loopback" in reasons[f"i-{ns}"] and "does not resolve" in reasons[f"j-{ns}"]
    log = lone.process.log()
    assert f"e-{ns} is not a usable ASAB record (not JSON)" in log
    assert f"f-{ns} is not a usable ASAB record (not a JSON object)" in log
    for name in "efghij":
        lone.zk.delete(f"/asab/run/{name}-{ns}")


def test_hundreds_of_instances_of_one_id(env, lone, ns):
    sid = f"many-{ns}"
    project(env, ns, "many", ids=[sid])
    transaction = lone.zk.transaction()
    for n in range(250):
        transaction.create(f"/asab/run/many-{ns}-{n:03}", json.dumps(asab(
            host=f"10.2.{n // 200}.{n % 200 + 1}", instance_id=f"many-{n}", service_id=sid,
            web=[["0.0.0.0", 8080]])).encode(), ephemeral=True)
    transaction.commit()
    eventually(lambda: len(endpoints(env, ns, sid)) == 250, 30, 0.2, "250 endpoints")
    assert sorted(len(s.endpoints) for s in slices(env, ns, sid)) == [50, 100, 100]


def test_the_last_instance_leaving_empties_the_slices_and_the_service_goes_after_the_grace_period(env, lone, ns):
    sid = f"leave-{ns}"
    project(env, ns, "leave", ids=[sid])
    path = lone.record(f"leave-{ns}", **asab(host="10.3.0.1", instance_id="l1", service_id=sid,
                                             web=[["0.0.0.0", 80]]))
    eventually(lambda: endpoints(env, ns, sid) == {("10.3.0.1", 80): "l1"}, 20, 0.1, "the endpoint")
    lone.zk.delete(path)
    left = time.monotonic()
    eventually(lambda: endpoints(env, ns, sid) == {}, 10, 0.05, "the slices to empty")
    assert service(env, ns, sid) is not None and time.monotonic() - left < GRACE, "the Service went too early"
    eventually(lambda: service(env, ns, sid) is None and slices(env, ns, sid) == [], GRACE + 15, 0.1,
               "the Service and its slices to go after the grace period")


def test_zookeeper_outage_and_a_restart_onto_an_empty_run_delete_nothing_early(env, lone, ns):
    import localenv
    sid = f"safe-{ns}"
    project(env, ns, "safe", ids=[sid])
    path = lone.record(f"safe-{ns}", ephemeral=False,
                       **asab(host="10.4.0.1", instance_id="s1", service_id=sid, web=[["0.0.0.0", 80]]))
    eventually(lambda: endpoints(env, ns, sid) == {("10.4.0.1", 80): "s1"}, 20, 0.1, "the endpoint")

    localenv.stop_zookeeper()
    try:
        time.sleep(GRACE + 3)
        assert endpoints(env, ns, sid) == {("10.4.0.1", 80): "s1"}, "an outage changed the projection"
    finally:
        localenv.resume_zookeeper()
    eventually(lambda: lone.process.readiness() and lone.process.readiness()[0] == 200, 60, 0.2, "ready again")
    assert endpoints(env, ns, sid) == {("10.4.0.1", 80): "s1"}

    # Stopped, the record removed meanwhile, started again: the Service outlives the start.
    lone.process.stop()
    eventually(lambda: lone.zk.connected, 30, 0.1, "the test's ZooKeeper client")
    lone.zk.delete(path)
    lone.process = lone.start()
    started = time.monotonic()
    eventually(lambda: endpoints(env, ns, sid) == {}, 15, 0.05, "the slices to empty")
    assert service(env, ns, sid) is not None and time.monotonic() - started < GRACE
    eventually(lambda: service(env, ns, sid) is None, GRACE + 15, 0.1, "the Service to go after the grace period")


def test_the_grace_period_starts_again_after_an_outage(env, lone, ns):
    """An id whose last instance left just before an outage longer than the grace period
    keeps its Service for a full grace period once ZooKeeper is back: the time without a
    healthy session does not count (the app may have come back meanwhile)."""
    import localenv
    sid = f"away-{ns}"
    project(env, ns, "away", ids=[sid])
    path = lone.record(f"away-{ns}", **asab(host="10.4.1.1", instance_id="a1", service_id=sid, web=[["0.0.0.0", 80]]))
    eventually(lambda: endpoints(env, ns, sid) == {("10.4.1.1", 80): "a1"}, 20, 0.1, "the endpoint")
    lone.zk.delete(path)
    eventually(lambda: endpoints(env, ns, sid) == {}, 10, 0.02, "the slices to empty")
    localenv.stop_zookeeper()
    try:
        time.sleep(GRACE + 2)
        assert service(env, ns, sid) is not None, "deleted during the outage"
    finally:
        localenv.resume_zookeeper()
    resumed = time.monotonic()
    eventually(lambda: service(env, ns, sid) is None, GRACE + 30, 0.05, "the Service to go after the grace period")
    assert time.monotonic() - resumed >= GRACE, "deleted before a full grace period under a healthy session"
    eventually(lambda: lone.process.readiness() and lone.process.readiness()[0] == 200, 60, 0.2, "ready again")


def test_names_taken_by_others_are_never_overwritten_and_collisions_are_reported(env, lone, ns):
    sid = f"taken-{ns}"
    env.core.create_namespaced_service(ns, {"metadata": {"name": sid, "labels": {"owner": "someone"}},
                                            "spec": {"ports": [{"port": 1234}], "selector": {"app": "x"}}})
    odd_id = f"Odd_{ns}"
    project(env, ns, "taken", patterns=[f"taken-{ns}", f"Odd_{ns}", "odd-*"])
    lone.record(f"taken-{ns}", **asab(host="10.5.0.1", instance_id="t1", service_id=sid, web=[["0.0.0.0", 80]]))
    lone.record(f"odd-{ns}", **asab(host="10.5.0.2", instance_id="o1", service_id=odd_id, web=[["0.0.0.0", 80]]))
    mapped = eventually(lambda: projection(env, ns, "taken").get("status", {}).get("projected"), 20, 0.1,
                        "the odd id projected")[0]["service"]
    assert mapped.startswith(f"odd-{ns}-") and mapped != odd_id
    lone.record(f"odd2-{ns}", **asab(host="10.5.0.3", instance_id="o2", service_id=mapped, web=[["0.0.0.0", 80]]))
    status = eventually(lambda: (s := projection(env, ns, "taken").get("status")) and s.get("skippedCount") == 2
                        and s, 20, 0.1, "both collisions in the status")
    reasons = " ".join(s["reason"] for s in status["skipped"])
    assert f"Service {ns}/{sid} exists and is not the operator's" in reasons
    assert f"its Service name {mapped!r} is taken by {odd_id!r}" in reasons
    theirs = service(env, ns, sid)
    assert theirs.spec.selector == {"app": "x"} and theirs.metadata.labels == {"owner": "someone"}
    assert slices(env, ns, sid) == [], "slices were attached to someone else's Service"
    assert endpoints(env, ns, mapped) == {("10.5.0.2", 80): "o1"}


def test_a_refused_target_and_a_taken_slice_name_are_reported_and_stop_nothing_else(env, lone, ns):
    """A Projection into a namespace that does not exist (or where the operator may not write:
    the ServiceAccount pass sees a 403 there), and a foreign EndpointSlice holding the name of
    one of ours: each is in its Projection's status, retried only by the periodic reconcile,
    and the other Services are projected all the same."""
    missing, lost, fine = f"missing-{ns}", f"lost-{ns}", f"fine-{ns}"
    project(env, ns, "nowhere", ids=[lost], targetNamespace=missing)
    discovery_api(env).create_namespaced_endpoint_slice(ns, {
        "metadata": {"name": f"{fine}-ipv4-80", "labels": {"kubernetes.io/service-name": "someone-elses"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.5.9.9"]}]})
    project(env, ns, "here", ids=[fine, f"{fine}-b"])
    lone.record(f"lost-{ns}", **asab(host="10.5.1.1", instance_id="l1", service_id=lost, web=[["0.0.0.0", 80]]))
    lone.record(f"fine-{ns}", **asab(host="10.5.1.2", instance_id="f1", service_id=fine, web=[["0.0.0.0", 80]]))
    lone.record(f"fine-b-{ns}", **asab(host="10.5.1.3", instance_id="f2", service_id=f"{fine}-b",
                                       web=[["0.0.0.0", 80]]))
    eventually(lambda: endpoints(env, ns, f"{fine}-b") == {("10.5.1.3", 80): "f2"}, 20, 0.1, "the other Service")
    status = eventually(lambda: (s := projection(env, ns, "nowhere").get("status")) and s.get("skippedCount")
                        and s, 20, 0.1, "the refused target in the status")
    assert status["projectedCount"] == 0 and status["skipped"][0]["subject"] == f"service_id {lost!r}"
    assert missing in status["skipped"][0]["reason"], status
    status = eventually(lambda: (s := projection(env, ns, "here").get("status")) and s.get("skippedCount")
                        and s, 20, 0.1, "the taken slice name in the status")
    assert f"EndpointSlice {ns}/{fine}-ipv4-80 exists and is not the operator's" in status["skipped"][0]["reason"]
    theirs = discovery_api(env).read_namespaced_endpoint_slice(f"{fine}-ipv4-80", ns)
    assert theirs.metadata.labels == {"kubernetes.io/service-name": "someone-elses"}
    assert [e.addresses for e in theirs.endpoints] == [["10.5.9.9"]]

    # No hammering: with a reconcile period of 5 s, a few attempts in 6 s, not dozens.
    mark = env.audit_mark()
    time.sleep(6)
    attempts = [w for w in env.writes_since(mark) if f" {missing}/" in w or f"{fine}-ipv4-80" in w]
    assert len(attempts) <= 6, attempts


def test_invalid_projection_is_reported_and_keeps_what_it_made(env, lone, ns):
    sid = f"inv-{ns}"
    project(env, ns, "inv", ids=[sid])
    lone.record(f"inv-{ns}", **asab(host="10.6.0.1", instance_id="i1", service_id=sid, web=[["0.0.0.0", 80]]))
    eventually(lambda: endpoints(env, ns, sid) == {("10.6.0.1", 80): "i1"}, 20, 0.1, "the endpoint")
    custom(env).patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "inv",
                                               {"spec": {"labels": {"kubernetes.io/service-name": "evil"}}})
    condition = eventually(lambda: next((c for c in projection(env, ns, "inv").get("status", {}).get("conditions", ())
                                         if c["status"] == "False"), None), 20, 0.1, "Ready=False")
    assert condition["reason"] == "InvalidSpec" and "spec.labels" in condition["message"]
    eventually(lambda: any("spec.labels" in w for w in env.warnings(ns, "inv")), 10, 0.1, "a Warning Event")
    assert endpoints(env, ns, sid) == {("10.6.0.1", 80): "i1"}, "an invalid spec lost what was projected"
    with pytest.raises(kubernetes.client.ApiException) as rejected:
        project(env, ns, "bad-template", nameTemplate="asab-{ID}")
    assert rejected.value.status == 422 and "{id}" in rejected.value.body


def test_deleting_a_projection_removes_what_it_made(env, lone, ns):
    sid = f"del-{ns}"
    project(env, ns, "del", ids=[sid], nameTemplate="asab-{id}", labels={"team": "blue"},
            annotations={"example.com/note": "projected"})
    lone.record(f"del-{ns}", **asab(host="10.7.0.1", instance_id="d1", service_id=sid, web=[["0.0.0.0", 80]]))
    name = f"asab-{sid}"
    eventually(lambda: endpoints(env, ns, name) == {("10.7.0.1", 80): "d1"}, 20, 0.1, "the endpoint")
    svc = service(env, ns, name)
    assert svc.metadata.labels["team"] == "blue" and svc.metadata.annotations["example.com/note"] == "projected"
    custom(env).delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "del")
    eventually(lambda: service(env, ns, name) is None and slices(env, ns, name) == [], 10, 0.1,
               "the Service and slices to go with the Projection (no grace period)")


def test_other_namespace_target_and_drift_is_repaired(env, lone, ns):
    target = env.namespace("target")
    try:
        sid = f"tgt-{ns}"
        project(env, ns, "tgt", ids=[sid], targetNamespace=target)
        lone.record(f"tgt-{ns}", **asab(host="10.8.0.1", instance_id="t1", service_id=sid, web=[["0.0.0.0", 80]]))
        eventually(lambda: endpoints(env, target, sid) == {("10.8.0.1", 80): "t1"}, 20, 0.1, "the endpoint")
        assert not service(env, target, sid).metadata.owner_references   # no owner across namespaces
        [item] = slices(env, target, sid)
        discovery_api(env).delete_namespaced_endpoint_slice(item.metadata.name, target)
        eventually(lambda: endpoints(env, target, sid) == {("10.8.0.1", 80): "t1"}, 20, 0.1, "the slice re-made")
    finally:
        env.clean_namespace(target)


def own_record(zk, ns, name):
    for child in zk.get_children("/asab/run"):
        with contextlib.suppress(Exception):
            record = json.loads(zk.get(f"/asab/run/{child}")[0])
            marker = record.get("asab_operator") or {}
            if (marker.get("namespace"), marker.get("name")) == (ns, name):
                return record
    return None


def test_advertising_and_projecting_at_once_converges_then_writes_nothing(env, lone, ns):
    sid = f"loop-{ns}"
    env.create_pod(ns, "web-1", {"discovery.asab/service-id": sid})
    env.set_ready(ns, "web-1", "10.9.0.1")
    project(env, ns, "loop", patterns=[f"loop-{ns}*"])
    eventually(lambda: own_record(lone.zk, ns, "web-1"), 20, 0.1, "the Pod advertised")
    # Another cluster's operator advertising the same id over the same ZooKeeper.
    lone.record(f"k8s~other~Pod~x~web-9-{ns}", **asab(host="10.9.0.9", instance_id="web-9", service_id=sid,
                                                     web=[["0.0.0.0", 8080]],
                                                     asab_operator={"cluster": "other-cluster", "kind": "Pod"}))
    eventually(lambda: endpoints(env, ns, sid) == {("10.9.0.9", 8080): "web-9"}, 20, 0.1,
               "only the other cluster's record projected, not our own Pod's")
    eventually(lambda: projection(env, ns, "loop").get("status", {}).get("projectedCount") == 1, 10, 0.1,
               "the status")
    time.sleep(1)
    before, mark = harness.zxid(env), env.audit_mark()
    time.sleep(12)     # more than two full reconciles (--reconcile-period 5) of both directions
    assert env.writes_since(mark) == [], "the operator wrote to Kubernetes while nothing changed"
    assert harness.zxid(env) == before, "ZooKeeper saw a write while nothing changed"
    assert lone.process.metric("asab_operator_projected_services") == 1


def test_two_clusters_on_one_zookeeper_project_each_others_records(env, log_dir, lone, ns):
    """Two operator identities (two clusters' operators) sharing one ZooKeeper path: each
    projects the other's Pods, never its own. (One API server stands in for both clusters:
    each operator watches its own namespace.)"""
    other_ns = env.namespace("other")
    lone.process.stop()
    sid = f"multi-{ns}"
    operators = []
    try:
        for cluster, namespace in (("cluster-a", ns), ("cluster-b", other_ns)):
            operators.append(lone.start("--cluster-id", cluster, "--namespace", namespace))
        for namespace, ip in ((ns, "10.9.1.1"), (other_ns, "10.9.1.2")):
            env.create_pod(namespace, "app", {"discovery.asab/service-id": sid})
            env.set_ready(namespace, "app", ip)
            project(env, namespace, "mirror", ids=[sid])
        eventually(lambda: endpoints(env, ns, sid) == {("10.9.1.2", 8080): "app"}, 20, 0.1,
                   "cluster A projects B's Pod only")
        eventually(lambda: endpoints(env, other_ns, sid) == {("10.9.1.1", 8080): "app"}, 20, 0.1,
                   "cluster B projects A's Pod only")
        markers = {r["asab_operator"]["cluster"] for r in (own_record(lone.zk, n, "app") for n in (ns, other_ns))}
        assert markers == {"cluster-a", "cluster-b"}
    finally:
        for process in operators:
            process.stop()
        env.clean_namespace(other_ns)
        lone.process = lone.start()
