import json

from asab_operator import annotations as ann
from asab_operator.record import Identity
from asab_operator.sources.services import service_facts, service_outcome, slice_facts

IDENTITY = Identity("c")


def service(annotations=None, ports=None, publish=False):
    return {"metadata": {"name": "front", "namespace": "shop", "uid": "s-1",
                         "creationTimestamp": "2026-12-01T00:00:00Z",
                         "annotations": {ann.SERVICE_ID: "front"} if annotations is None else annotations},
            "spec": {"ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}],
                     "publishNotReadyAddresses": publish}}


def endpoint(ip, ready=True, terminating=False, pod="p", node="n1", serving=None):
    conditions = {"ready": ready, "terminating": terminating}
    if serving is not None:
        conditions["serving"] = serving
    body = {"addresses": [ip], "conditions": conditions, "nodeName": node}
    if pod:
        body["targetRef"] = {"kind": "Pod", "name": pod, "namespace": "shop"}
    return body


def eps(*endpoints, address_type="IPv4", ports=None):
    return slice_facts({"addressType": address_type, "endpoints": list(endpoints),
                        "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}]})


def records(outcome):
    assert outcome.problems == ()
    return {a.instance_id: json.loads(a.data) for a in outcome.adverts}


def test_one_record_per_ready_endpoint():
    facts = service_facts(service())
    out = records(service_outcome(facts, [eps(endpoint("10.0.0.1", pod="front-a"),
                                              endpoint("10.0.0.2", pod="front-b", node="n2"),
                                              endpoint("10.0.0.3", ready=False, pod="front-c"),
                                              endpoint("10.0.0.4", terminating=True, ready=False, pod="front-d"))],
                                  IDENTITY, "cluster.local"))
    assert set(out) == {"front-a", "front-b"}
    assert out["front-b"]["host"] == "10.0.0.2" and out["front-b"]["web"] == [["0.0.0.0", 8080]]
    assert out["front-b"]["node_id"] == "n2" and out["front-b"]["service_id"] == "front"
    assert out["front-a"]["asab_operator"]["kind"] == "Service"


def test_publish_not_ready_includes_unready_but_never_terminating():
    facts = service_facts(service(publish=True))
    out = records(service_outcome(facts, [eps(endpoint("10.0.0.3", ready=False, pod="c"),
                                              endpoint("10.0.0.4", ready=False, terminating=True, pod="d"))],
                                  IDENTITY, "cluster.local"))
    assert set(out) == {"c"}


def test_endpoint_without_pod_gets_a_stable_name_and_ipv6_is_skipped():
    facts = service_facts(service())
    out = records(service_outcome(facts, [eps(endpoint("10.9.8.7", pod=None)),
                                          eps(endpoint("fd00::1", pod="v6"), address_type="IPv6")],
                                  IDENTITY, "cluster.local"))
    assert set(out) == {"front-10-9-8-7"}


def test_port_annotation_names_a_service_port_mapped_to_the_endpoint_port():
    ports = [{"name": "http", "port": 80}, {"name": "admin", "port": 9000}]
    facts = service_facts(service({ann.SERVICE_ID: "front", ann.PORT: "admin"}, ports=ports))
    out = records(service_outcome(facts, [eps(endpoint("10.0.0.1"), ports=[{"name": "http", "port": 8080},
                                                                          {"name": "admin", "port": 9443}])],
                                  IDENTITY, "cluster.local"))
    assert out["p"]["web"] == [["0.0.0.0", 9443]]
    facts = service_facts(service({ann.SERVICE_ID: "front", ann.PORT: "9000"}, ports=ports))
    assert service_outcome(facts, [], IDENTITY, "x").problems == ()
    facts = service_facts(service({ann.SERVICE_ID: "front", ann.PORT: "grpc"}, ports=ports))
    outcome = service_outcome(facts, [], IDENTITY, "x")
    assert outcome.problems[0].field == ann.PORT and "http=80, admin=9000" in outcome.problems[0].reason


def test_service_mode_advertises_the_cluster_dns_name():
    facts = service_facts(service({ann.SERVICE_ID: "front", ann.MODE: "service"}))
    out = records(service_outcome(facts, [], IDENTITY, "corp.example"))
    assert out == {"front": {**out["front"], "host": "front.shop.svc.corp.example", "web": [["0.0.0.0", 80]],
                             "instance_id": "front"}}


def test_not_annotated_and_invalid():
    assert service_facts(service(annotations={})) is None
    facts = service_facts(service({ann.SERVICE_ID: "Front"}))
    outcome = service_outcome(facts, [], IDENTITY, "x")
    assert outcome.adverts == () and outcome.problems[0].field == ann.SERVICE_ID
