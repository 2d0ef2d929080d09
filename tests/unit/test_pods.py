import json

from asab_operator import annotations as ann
from asab_operator.record import Identity, node_name
from asab_operator.sources.pods import pod_outcome

IDENTITY = Identity("cluster-a")


def pod(annotations=None, ready=True, ip="10.1.2.3", ports=None, deleting=False, node="node-a"):
    ports = [{"name": "http", "containerPort": 8080}] if ports is None else ports
    body = {
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1",
                     "annotations": {ann.SERVICE_ID: "my-app"} if annotations is None else annotations,
                     "creationTimestamp": "2026-12-03T09:00:00Z"},
        "spec": {"nodeName": node, "containers": [{"name": "app", "ports": ports}]},
        "status": {"startTime": "2026-12-03T10:00:00Z",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }
    if ip:
        body["status"]["podIP"] = ip
    if deleting:
        body["metadata"]["deletionTimestamp"] = "2026-12-03T11:00:00Z"
    return body


def only_record(outcome):
    assert outcome.problems == ()
    (advert,) = outcome.adverts
    return advert.node, advert.data


def test_ready_pod_becomes_an_asab_record_byte_for_byte():
    name, data = only_record(pod_outcome(pod(), IDENTITY))
    assert name == node_name(IDENTITY, "Pod", "shop", "web-1")
    # ASAB's key order and json.dumps defaults; the marker last.
    assert data == (
        b'{"host": "10.1.2.3", "appclass": "KubernetesPod", "launch_time": "2026-12-03T10:00:00.000000Z", '
        b'"instance_id": "web-1", "node_id": "node-a", "service_id": "my-app", "containerized": true, '
        b'"web": [["0.0.0.0", 8080]], "asab_operator": {"cluster": "cluster-a", "kind": "Pod", '
        b'"namespace": "shop", "name": "web-1", "uid": "u-1"}}')


def test_overrides_and_custom_ids():
    _, data = only_record(pod_outcome(pod({
        ann.SERVICE_ID: "my-app", ann.INSTANCE_ID: "blue-1", ann.NODE_ID: "rack-4",
        ann.PORT: "9000", ann.DISCOVERY: '{"team": ["blue"]}'}), IDENTITY))
    record = json.loads(data)
    assert record["instance_id"] == "blue-1"
    assert record["node_id"] == "rack-4"
    assert record["web"] == [["0.0.0.0", 9000]]
    assert record["discovery"] == {"team": ["blue"]}


def test_port_by_name_and_defaults():
    ports = [{"name": "metrics", "containerPort": 9090}, {"name": "web", "containerPort": 8000}]
    assert json.loads(only_record(pod_outcome(pod(ports=ports), IDENTITY))[1])["web"] == [["0.0.0.0", 8000]]
    named = pod({ann.SERVICE_ID: "a", ann.PORT: "metrics"}, ports=ports)
    assert json.loads(only_record(pod_outcome(named, IDENTITY))[1])["web"] == [["0.0.0.0", 9090]]
    single = pod(ports=[{"containerPort": 7000}])
    assert json.loads(only_record(pod_outcome(single, IDENTITY))[1])["web"] == [["0.0.0.0", 7000]]


def test_unknown_port_name_and_ambiguous_default_are_problems():
    ports = [{"name": "a", "containerPort": 1}, {"name": "b", "containerPort": 2}]
    outcome = pod_outcome(pod({ann.SERVICE_ID: "x", ann.PORT: "http"}, ports=ports), IDENTITY)
    assert outcome.adverts == () and outcome.problems[0].field == ann.PORT
    assert "no container port is named 'http'" in outcome.problems[0].reason
    outcome = pod_outcome(pod(ports=ports), IDENTITY)
    assert outcome.problems[0].field == ann.PORT and "2 container ports" in outcome.problems[0].reason
    outcome = pod_outcome(pod(ports=[]), IDENTITY)
    assert outcome.problems[0].field == ann.PORT


def test_only_ready_pods_with_an_ip_and_not_terminating():
    assert pod_outcome(pod(ready=False), IDENTITY).adverts == ()
    assert pod_outcome(pod(ip=None), IDENTITY).adverts == ()
    assert pod_outcome(pod(deleting=True), IDENTITY).adverts == ()
    assert pod_outcome(pod(ready=False), IDENTITY).annotated


def test_not_annotated_pod_contributes_nothing():
    outcome = pod_outcome(pod(annotations={}), IDENTITY)
    assert outcome.adverts == () and outcome.problems == () and not outcome.annotated


def test_problems_are_reported_even_when_not_ready():
    outcome = pod_outcome(pod({ann.SERVICE_ID: "x", ann.PORT: "0"}, ready=False), IDENTITY)
    assert outcome.problems and outcome.adverts == ()


def test_no_node_id_when_unscheduled():
    record = json.loads(only_record(pod_outcome(pod(node=None), IDENTITY))[1])
    assert "node_id" not in record


def test_same_pod_same_bytes():
    assert pod_outcome(pod(), IDENTITY) == pod_outcome(pod(), IDENTITY)
