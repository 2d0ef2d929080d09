"""The Advertisement custom resource, against the real API server (its schema) and operator."""
from __future__ import annotations

import json

import kubernetes
import pytest

from harness import eventually, records_of, run_children

GROUP, VERSION, PLURAL = "discovery.asab", "v1alpha1", "advertisements"


def api(env):
    return kubernetes.client.CustomObjectsApi(env.api_client)


def create(env, ns, name, spec):
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Advertisement", "metadata": {"name": name}, "spec": spec}
    return api(env).create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)


def read(env, ns, name):
    return api(env).get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)


def ad_records(zk, ns):
    """Our records for Advertisements in a namespace, by instance id."""
    return {r["instance_id"]: r for r in run_children(zk).values()
            if isinstance(r, dict) and r.get("asab_operator", {}).get("namespace") == ns
            and r["asab_operator"]["kind"] == "Advertisement"}


def ready_condition(env, ns, name):
    status = read(env, ns, name).get("status") or {}
    return next((c for c in status.get("conditions") or () if c["type"] == "Ready"), None)


def test_static_record_for_something_outside_the_cluster(env, zk, operator, peer, ns):
    instance = f"billing-vm-{ns}"
    create(env, ns, "billing", {"serviceId": f"billing-{ns}", "instanceId": instance, "host": "127.0.6.1",
                                "port": 8443, "nodeId": "vm-host-3", "discovery": {"site": [f"eu-{ns}"]}})
    record = eventually(lambda: ad_records(zk, ns).get(instance), what="the static record")
    assert record["host"] == "127.0.6.1" and record["web"] == [["0.0.0.0", 8443]]
    assert record["node_id"] == "vm-host-3" and record["appclass"] == "KubernetesAdvertisement"
    assert record["discovery"] == {"site": [f"eu-{ns}"]}
    condition = eventually(lambda: (c := ready_condition(env, ns, "billing")) and c["status"] == "True" and c,
                           what="Ready=True")
    status = read(env, ns, "billing")["status"]
    assert status["advertised"] == 1 and status["observedGeneration"] == 1
    assert status["instances"] == [{"instanceId": instance, "host": "127.0.6.1", "port": 8443}]
    assert condition["reason"] == "Advertised" and condition["lastTransitionTime"]
    eventually(lambda: peer.locate(site=f"eu-{ns}") == ["http://127.0.6.1:8443"], 15, 0.2,
               "the ASAB client to locate the static record")

    api(env).patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "billing", {"spec": {"port": 9443}})
    eventually(lambda: ad_records(zk, ns)[instance]["web"] == [["0.0.0.0", 9443]], what="the new port")
    eventually(lambda: read(env, ns, "billing")["status"]["observedGeneration"] == 2, what="observedGeneration 2")
    api(env).delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "billing")
    eventually(lambda: ad_records(zk, ns) == {}, what="withdrawal with the resource")


def test_selector_advertises_matching_ready_pods_without_annotations(env, zk, operator, ns):
    for name, labels in (("web-a", {"app": "web"}), ("web-b", {"app": "web"}), ("other", {"app": "db"})):
        env.create_pod(ns, name, labels=labels)
        env.set_ready(ns, name, "127.0.6.10" if name == "web-a" else "127.0.6.11")
    env.create_pod(ns, "web-c", labels={"app": "web"})
    env.set_ready(ns, "web-c", "127.0.6.12", ready=False)
    create(env, ns, "web", {"serviceId": f"web-{ns}", "selector": {"matchLabels": {"app": "web"}}, "port": "http"})
    eventually(lambda: set(ad_records(zk, ns)) == {"web-a", "web-b"}, what="the two Ready web Pods")
    eventually(lambda: (read(env, ns, "web").get("status") or {}).get("advertised") == 2, what="status: 2")
    pod = env.core.read_namespaced_pod("web-a", ns).metadata
    assert not pod.annotations and not pod.finalizers, "selected Pods are not touched"

    env.set_ready(ns, "web-c", "127.0.6.12")
    eventually(lambda: set(ad_records(zk, ns)) == {"web-a", "web-b", "web-c"}, what="web-c once Ready")
    env.core.patch_namespaced_pod("web-b", ns, {"metadata": {"labels": {"app": "other"}}})
    eventually(lambda: set(ad_records(zk, ns)) == {"web-a", "web-c"}, what="web-b once it stops matching")
    env.delete_pod(ns, "web-a")
    eventually(lambda: set(ad_records(zk, ns)) == {"web-c"}, what="web-a once deleted")
    status = eventually(lambda: (s := read(env, ns, "web").get("status") or {}) and s.get("advertised") == 1 and s,
                        what="status: 1")
    assert status["instances"] == [{"instanceId": "web-c", "host": "127.0.6.12", "port": 8080, "pod": "web-c"}]


def test_printer_columns(env, operator, ns):
    create(env, ns, "cols", {"serviceId": f"cols-{ns}", "instanceId": f"cols-{ns}", "host": "127.0.6.2", "port": 80})
    eventually(lambda: (read(env, ns, "cols").get("status") or {}).get("advertised") == 1, what="status")
    table = env.api_client.call_api(
        *env.api_client.param_serialize("GET", f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}",
                                        header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
                                        auth_settings=["BearerToken"]))
    body = json.loads(table.read())
    columns = [c["name"] for c in body["columnDefinitions"]]
    assert columns[:4] == ["Name", "Service ID", "Instances", "Ready"] and "Age" in columns
    assert body["rows"][0]["cells"][1:4] == [f"cols-{ns}", 1, "True"]


# The API server rejects these at admission, naming the field.
REJECTED = [
    ({"serviceId": "a", "host": "h"}, "spec.port"),
    ({"serviceId": "a", "host": "h", "port": "http"}, "numeric spec.port"),
    ({"serviceId": "a", "host": "h", "port": 80, "selector": {"matchLabels": {"a": "b"}}}, "exactly one"),
    ({"serviceId": "a"}, "exactly one"),
    ({"serviceId": "Shop", "host": "h", "port": 80}, "spec.serviceId"),
    ({"host": "h", "port": 80}, "spec.serviceId"),
    ({"serviceId": "a", "host": "h", "port": 0}, "spec.port"),
    ({"serviceId": "a", "selector": {"matchLabels": {"a": "b"}}, "port": "Not_A_Name"}, "spec.port"),
    ({"serviceId": "a", "selector": {"matchLabels": {"a": "b"}}, "instanceId": "x"}, "spec.instanceId"),
    ({"serviceId": "a", "selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
     "spec.selector.matchExpressions[0].operator"),
    ({"serviceId": "a", "host": "h", "port": 80, "discovery": {"team": "blue"}}, "spec.discovery.team"),
    ({"serviceId": "a", "selector": {"matchLabels": {"a": "b"}}, "port": "99999"}, "spec.port"),
    ({"serviceId": "a", "selector": {"matchLabels": {"a": "b"}}, "port": "00"}, "spec.port"),
]


@pytest.mark.parametrize("spec, field", REJECTED, ids=[f[1] + "-" + str(i) for i, f in enumerate(REJECTED)])
def test_schema_rejects_malformed_resources_naming_the_field(env, ns, spec, field):
    with pytest.raises(kubernetes.client.ApiException) as caught:
        create(env, ns, "bad", spec)
    assert caught.value.status == 422
    assert field in json.loads(caught.value.body)["message"]


# These pass the schema but are wrong: the operator says so, naming the field.
SEMANTIC = [
    ({"host": "fd00::1", "port": 80}, "spec.host", "IPv6 literal"),
    ({"host": "0.0.0.0", "port": 80}, "spec.host", "not an address"),
    ({"host": "http://billing", "port": 80}, "spec.host", "neither an IPv4 address nor a DNS name"),
    ({"host": "h", "port": 80, "discovery": {"my.team": ["a"]}}, "spec.discovery", "no dots"),
    ({"host": "h", "port": 80, "discovery": {"team": ["Blue"]}}, "spec.discovery", "cannot appear in a"),
    ({"host": "h", "port": 80, "discovery": {"instance_id": ["x"]}}, "spec.discovery", "set by its own"),
    ({"selector": {}}, "spec.selector", "would select every Pod"),
    ({"selector": {"matchLabels": {"app": "a b"}}}, "spec.selector.matchLabels", "not a valid label value"),
    ({"selector": {"matchLabels": {"-bad-": "x"}}}, "spec.selector.matchLabels", "not a valid label key"),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
     "spec.selector.matchExpressions[0]", "needs values"),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]}},
     "spec.selector.matchExpressions[0]", "takes no values"),
    ({"selector": {"matchLabels": {"app\n": "x"}}}, "spec.selector.matchLabels", "not a valid label key"),
    ({"host": "10.0.0.1\n", "port": 80}, "spec.host", "neither an IPv4 address nor a DNS name"),
    ({"host": "h", "port": 80, "nodeId": "  "}, "spec.nodeId", "only spaces"),
]


@pytest.mark.parametrize("spec, field, reason", SEMANTIC, ids=[f"{s[1]}-{i}" for i, s in enumerate(SEMANTIC)])
def test_semantically_wrong_resource_is_reported_and_loses_nothing_else(env, zk, operator, ns, spec, field, reason):
    create(env, ns, "good", {"serviceId": "good", "instanceId": f"good-{ns}", "host": "127.0.6.3", "port": 80})
    good = eventually(lambda: ad_records(zk, ns).get(f"good-{ns}"), what="the good record")
    create(env, ns, "bad", {"serviceId": "bad", **spec})
    warnings = eventually(lambda: env.warnings(ns, "bad"), what="a Warning Event")
    assert any(w.startswith("InvalidAdvertisement:") and field in w and reason in w for w in warnings), warnings
    condition = eventually(lambda: (c := ready_condition(env, ns, "bad")) and c["reason"] == "Invalid" and c,
                           what="Ready=False, reason Invalid")
    assert condition["status"] == "False" and field in condition["message"]
    assert f"{ns}/bad" in operator.log() and field in operator.log()
    assert set(ad_records(zk, ns)) == {f"good-{ns}"} and ad_records(zk, ns)[f"good-{ns}"] == good


def test_selected_pod_without_the_port_is_reported_on_the_resource(env, zk, operator, ns):
    env.create_pod(ns, "ok", labels={"app": "mixed"})
    env.create_pod(ns, "portless", labels={"app": "mixed"}, ports=[{"name": "metrics", "containerPort": 9090},
                                                                    {"name": "grpc", "containerPort": 9000}])
    for name, ip in (("ok", "127.0.6.20"), ("portless", "127.0.6.21")):
        env.set_ready(ns, name, ip)
    create(env, ns, "mixed", {"serviceId": "mixed", "selector": {"matchLabels": {"app": "mixed"}}})
    eventually(lambda: set(ad_records(zk, ns)) == {"ok"}, what="only the Pod with an http port")
    condition = eventually(lambda: (c := ready_condition(env, ns, "mixed")) and c["reason"] == "PartlyAdvertised"
                           and c, what="Ready, PartlyAdvertised")
    assert "spec.port (Pod portless)" in condition["message"]
    assert any("spec.port (Pod portless)" in w for w in env.warnings(ns, "mixed"))


def test_duplicate_instance_id_between_an_annotated_pod_and_a_resource(env, zk, operator, ns):
    instance = f"dup-{ns}"
    env.create_pod(ns, "older", {"discovery.asab/service-id": "dup", "discovery.asab/instance-id": instance})
    env.set_ready(ns, "older", "127.0.6.30")
    eventually(lambda: instance in {r.get("instance_id") for r in records_of(zk, ns).values()}, what="the Pod")
    import time
    time.sleep(1.1)
    create(env, ns, "younger", {"serviceId": "dup", "instanceId": instance, "host": "127.0.6.31", "port": 80})
    condition = eventually(lambda: (c := ready_condition(env, ns, "younger")) and c["status"] == "False" and c,
                           what="the resource to lose the claim")
    assert f"kept by Pod {ns}/older" in condition["message"]
    assert any(w.startswith("DuplicateInstanceId:") for w in env.warnings(ns, "younger"))
    env.delete_pod(ns, "older")
    eventually(lambda: (c := ready_condition(env, ns, "younger")) and c["status"] == "True", what="it takes over")
    assert ad_records(zk, ns)[instance]["host"] == "127.0.6.31"


def test_pods_deleted_while_a_new_selector_lists_them_are_not_advertised(env, zk, operator, ns):
    """The list a new selector starts from is older than the deletions that race it."""
    names = [f"q-{i}" for i in range(40)]
    for i, name in enumerate(names):
        env.create_pod(ns, name, labels={"app": "q"})
        env.set_ready(ns, name, f"127.0.6.{100 + i}")
    create(env, ns, "sel", {"serviceId": f"q-{ns}", "selector": {"matchLabels": {"app": "q"}}})
    for name in names:
        env.delete_pod(ns, name)
    eventually(lambda: not env.core.list_namespaced_pod(ns).items, what="the Pods to go")
    eventually(lambda: ad_records(zk, ns) == {}, 15, 0.1, "no record left for a deleted Pod")
    eventually(lambda: (read(env, ns, "sel").get("status") or {}).get("advertised") == 0, what="status: 0")
