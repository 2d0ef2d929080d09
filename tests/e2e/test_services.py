"""Annotated Services: their ready endpoints (from EndpointSlices), or the Service's DNS name."""
from __future__ import annotations

import kubernetes

from harness import eventually, records_of

SERVICE = "discovery.asab/service-id"


def create_service(env, ns, name, annotations, ports=None, publish=False):
    body = {"metadata": {"name": name, "annotations": annotations},
            "spec": {"ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}],
                     "selector": {"app": name}, "publishNotReadyAddresses": publish}}
    env.core.create_namespaced_service(ns, body)


# EndpointSlices refuse loopback addresses, so these use TEST-NET-1 (RFC 5737):
# the addresses are only data here, nothing connects to them.
def endpoint(ip, pod=None, ready=True, terminating=False, node="node-a"):
    body = {"addresses": [ip], "conditions": {"ready": ready, "serving": ready or terminating,
                                              "terminating": terminating}, "nodeName": node}
    if pod:
        body["targetRef"] = {"kind": "Pod", "name": pod}
    return body


def put_slice(env, ns, service, name, endpoints, ports=None, address_type="IPv4"):
    """What the EndpointSlice controller would do (none runs here)."""
    discovery = kubernetes.client.DiscoveryV1Api(env.api_client)
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service,
                                                  "endpointslice.kubernetes.io/managed-by": "tests"}},
            "addressType": address_type, "endpoints": endpoints,
            "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    try:
        discovery.replace_namespaced_endpoint_slice(name, ns, body)
    except kubernetes.client.ApiException as error:
        if error.status != 404:
            raise
        discovery.create_namespaced_endpoint_slice(ns, body)


def service_records(zk, ns):
    """Our Service records in a namespace, by instance id."""
    return {r["instance_id"]: r for r in records_of_all(zk, ns) if r["asab_operator"]["kind"] == "Service"}


def records_of_all(zk, ns):
    from harness import run_children
    return [r for r in run_children(zk).values()
            if isinstance(r, dict) and r.get("asab_operator", {}).get("namespace") == ns]


def test_service_endpoints_follow_the_slices(env, zk, operator, ns):
    front = f"front-{ns[-8:]}"   # instance ids are cluster-wide: unique per test
    create_service(env, ns, front, {SERVICE: "front"})
    f1, f2 = f"front-1-{ns}", f"front-2-{ns}"
    put_slice(env, ns, front, "front-a", [endpoint("192.0.2.1", f1),
                                            endpoint("192.0.2.2", f2, node="node-b"),
                                            endpoint("192.0.2.3", "front-3", ready=False),
                                            endpoint("192.0.2.4", "front-4", ready=False, terminating=True)])
    put_slice(env, ns, front, "front-b", [endpoint("192.0.2.9")])      # no Pod behind it
    put_slice(env, ns, front, "front-v6", [endpoint("fd00::1", "front-6")], address_type="IPv6")
    records = eventually(lambda: (r := service_records(zk, ns)) and len(r) == 3 and r, what="3 endpoint records")
    assert set(records) == {f1, f2, f"{front}-192-0-2-9"}
    assert records[f2]["host"] == "192.0.2.2" and records[f2]["web"] == [["0.0.0.0", 8080]]
    assert records[f2]["node_id"] == "node-b" and records[f2]["service_id"] == "front"
    assert records[f2]["asab_operator"]["name"] == front

    put_slice(env, ns, front, "front-a", [endpoint("192.0.2.1", f1, ready=False, terminating=True),
                                            endpoint("192.0.2.2", f2, node="node-b")])
    eventually(lambda: set(service_records(zk, ns)) == {f2, f"{front}-192-0-2-9"}, what="front-1 withdrawn")
    kubernetes.client.DiscoveryV1Api(env.api_client).delete_namespaced_endpoint_slice("front-b", ns)
    eventually(lambda: set(service_records(zk, ns)) == {f2}, what="the deleted slice's endpoint withdrawn")
    env.core.patch_namespaced_service(front, ns, {"metadata": {"annotations": {SERVICE: None}}})
    eventually(lambda: service_records(zk, ns) == {}, what="all withdrawn with the annotation")


def test_port_annotation_maps_service_port_to_endpoint_port_and_publish_not_ready(env, zk, operator, ns):
    ports = [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "admin", "port": 9000, "targetPort": 9443}]
    create_service(env, ns, "api", {SERVICE: "api", "discovery.asab/port": "admin"}, ports=ports, publish=True)
    pod = f"api-1-{ns}"   # instance ids are cluster-wide: unique per test
    put_slice(env, ns, "api", "api-a", [endpoint("192.0.2.20", pod, ready=False)],
              ports=[{"name": "http", "port": 8080}, {"name": "admin", "port": 9443}])
    records = eventually(lambda: service_records(zk, ns), what="the not-ready endpoint (publishNotReadyAddresses)")
    assert records[pod]["web"] == [["0.0.0.0", 9443]]


def test_service_mode_advertises_the_cluster_dns_name(env, zk, operator, ns):
    create_service(env, ns, "catalog", {SERVICE: "catalog", "discovery.asab/mode": "service",
                                        "discovery.asab/instance-id": f"catalog-{ns}"})
    records = eventually(lambda: service_records(zk, ns), what="the Service record")
    assert list(records) == [f"catalog-{ns}"]
    assert records[f"catalog-{ns}"]["host"] == f"catalog.{ns}.svc.cluster.local"
    assert records[f"catalog-{ns}"]["web"] == [["0.0.0.0", 80]]


def test_bad_service_annotations_are_reported(env, zk, operator, ns):
    create_service(env, ns, "bad-port", {SERVICE: "bad", "discovery.asab/port": "grpc"})
    create_service(env, ns, "bad-mode", {SERVICE: "bad", "discovery.asab/mode": "proxy"})
    create_service(env, ns, "bad-instance", {SERVICE: "bad", "discovery.asab/instance-id": "x"})
    for name, field in (("bad-port", "discovery.asab/port"), ("bad-mode", "discovery.asab/mode"),
                        ("bad-instance", "discovery.asab/instance-id")):
        warnings = eventually(lambda: env.warnings(ns, name), what=f"a Warning Event on {name}")
        assert any(w.startswith("InvalidAnnotation:") and field in w for w in warnings), warnings
    assert service_records(zk, ns) == {}


def test_slice_moved_to_another_service_takes_its_endpoints_along(env, zk, operator, ns):
    first, second = f"one-{ns[-8:]}", f"two-{ns[-8:]}"
    create_service(env, ns, first, {SERVICE: "one"})
    create_service(env, ns, second, {SERVICE: "two"})
    pod = f"moving-{ns}"
    put_slice(env, ns, first, "moving", [endpoint("192.0.2.50", pod)])
    eventually(lambda: service_records(zk, ns).get(pod, {}).get("service_id") == "one", what="under one")
    kubernetes.client.DiscoveryV1Api(env.api_client).patch_namespaced_endpoint_slice(
        "moving", ns, {"metadata": {"labels": {"kubernetes.io/service-name": second}}})
    eventually(lambda: service_records(zk, ns).get(pod, {}).get("service_id") == "two", what="under two")
    records = [r for r in records_of_all(zk, ns) if r.get("instance_id") == pod]
    assert len(records) == 1, "withdrawn from the first Service"
