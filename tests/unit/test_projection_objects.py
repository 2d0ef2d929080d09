"""Projection's Kubernetes side, pure: specs, bodies, matching and the write plan."""
from asab_operator import projection_objects as po
from asab_operator.projection import Selection, project
from asab_operator.sources.asab_records import read_instance
import json

PROJECTION = {"metadata": {"namespace": "apps", "name": "all", "uid": "u-1", "creationTimestamp": "t"},
              "spec": {"idType": "service_id", "nameTemplate": "asab-{id}", "labels": {"team": "blue"}}}


def spec():
    result, problems = po.read_spec(PROJECTION)
    assert problems == []
    return result


def bodies(*hosts, port=80):
    records = [read_instance(f"n{i}", json.dumps({"host": h, "instance_id": f"i{i}", "service_id": "shop",
                                                  "web": [["0.0.0.0", port]]}).encode())[0]
               for i, h in enumerate(hosts)]
    services, _ = project(records, Selection(), "asab-{id}", None, {})
    return dict(item for service in services for item in po.render(spec(), service))


def test_spec_problems_name_their_field():
    bad = {**PROJECTION, "spec": {"nameTemplate": "x", "labels": {"kubernetes.io/service-name": "a", "ok": "a b"},
                                  "annotations": {"discovery.asab/service-id": "x"}}}
    result, problems = po.read_spec(bad)
    assert result is None
    assert problems == ["spec.nameTemplate: must contain {id} exactly once",
                        "spec.labels: 'kubernetes.io/service-name' is reserved for the operator and Kubernetes",
                        "spec.labels: the value of 'ok' is not a valid label value",
                        "spec.annotations: 'discovery.asab/service-id' is reserved for the operator and Kubernetes"]


def test_render_marks_ownership_and_defaults_target_to_own_namespace():
    desired = bodies("10.0.0.1", "10.0.0.2")
    service = desired[("Service", "apps", "asab-shop")]
    assert po.owned(service) == "u-1" and service["metadata"]["labels"]["team"] == "blue"
    assert service["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert service["spec"]["clusterIP"] == "None" and "selector" not in service["spec"]
    endpoint_slice = desired[("EndpointSlice", "apps", "asab-shop-ipv4-80")]
    assert endpoint_slice["metadata"]["labels"][po.SERVICE_NAME_LABEL] == "asab-shop"
    assert [e["addresses"] for e in endpoint_slice["endpoints"]] == [["10.0.0.1"], ["10.0.0.2"]]


def test_matching_ignores_what_the_server_adds_but_not_what_others_change():
    desired = bodies("10.0.0.1")
    for key, body in desired.items():
        served = json.loads(json.dumps(body))
        served["metadata"]["labels"]["added-by-someone"] = "x"
        served["metadata"].update(uid="x", resourceVersion="5")
        if key[0] == "Service":
            served["spec"].update(clusterIPs=["None"], ipFamilies=["IPv4"], sessionAffinity="None")
        assert po.matches(body, served)
    key = ("EndpointSlice", "apps", "asab-shop-ipv4-80")
    edited = json.loads(json.dumps(desired[key]))
    edited["endpoints"][0]["addresses"] = ["10.9.9.9"]
    assert not po.matches(desired[key], edited)
    assert not po.matches(bodies("10.0.0.1", port=81)[("Service", "apps", "asab-shop")],
                          desired[("Service", "apps", "asab-shop")])


def test_plan_creates_then_holds_unwanted_objects_for_the_grace_period():
    desired = bodies("10.0.0.1")
    writes = po.plan(desired, {}, {}, 0, 60, True)
    assert [k[0] for k, _ in writes.apply] == ["Service", "EndpointSlice"] and not writes.delete
    actual = {k: {**b, "metadata": {**b["metadata"], "uid": f"uid-{k[0]}"}} for k, b in desired.items()}
    assert not po.plan(desired, actual, {}, 0, 60, True)          # in place: nothing to do
    since = {}
    early = po.plan({}, actual, since, 100, 60, True)
    assert [(k[0], b["endpoints"]) for k, b in early.apply] == [("EndpointSlice", [])] and not early.delete
    assert not po.plan({}, actual, since, 130, 60, False).delete   # no deleting without a healthy ZooKeeper
    late = po.plan({}, actual, since, 161, 60, True)
    assert [(k[0], uid) for k, uid in late.delete] == [("EndpointSlice", "uid-EndpointSlice"), ("Service", "uid-Service")]
    back = po.plan(desired, actual, since, 162, 60, True)
    assert not back and since == {}                                 # wanted again: the clock stops


def test_a_deleted_projection_takes_its_objects_at_once():
    desired = bodies("10.0.0.1")
    writes = po.plan({}, desired, {}, 0, 60, False, gone_projections=["u-1"])
    assert len(writes.delete) == 2 and not writes.apply


def test_many_endpoints_are_split_into_slices_of_one_hundred():
    desired = bodies(*(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(250)))
    sizes = {k[2]: len(b["endpoints"]) for k, b in desired.items() if k[0] == "EndpointSlice"}
    assert sizes == {"asab-shop-ipv4-80": 100, "asab-shop-ipv4-80-1": 100, "asab-shop-ipv4-80-2": 50}
