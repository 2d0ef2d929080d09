import json

import pytest

from asab_operator.record import Identity
from asab_operator.sources.advertisements import parse_advertisement, selected_pod_outcome, static_outcome
from asab_operator.sources.services import stable_instance
from asab_operator import annotations as ann


def body(spec, name="ad"):
    return {"metadata": {"name": name, "namespace": "ns", "uid": "u", "generation": 1,
                         "creationTimestamp": "2026-12-01T00:00:00Z"}, "spec": {"serviceId": "s", **spec}}


def test_static_record():
    spec, problems = parse_advertisement(body({"host": "billing.example", "port": 8443, "nodeId": "vm"}))
    assert problems == ()
    (advert,) = static_outcome(spec, Identity("c")).adverts
    record = json.loads(advert.data)
    assert record["host"] == "billing.example" and record["instance_id"] == "ad" and record["node_id"] == "vm"
    assert record["appclass"] == "KubernetesAdvertisement" and record["asab_operator"]["kind"] == "Advertisement"


@pytest.mark.parametrize("spec, field", [
    ({"host": "10.0.0.1\n", "port": 80}, "spec.host"),
    ({"host": "1.2.3", "port": 80}, "spec.host"),
    ({"host": "255.255.255.255", "port": 80}, "spec.host"),
    ({"host": "224.0.0.1", "port": 80}, "spec.host"),
    ({"host": "h", "port": 80, "nodeId": "  "}, "spec.nodeId"),
    ({"selector": {"matchLabels": {"app\n": "x"}}}, "spec.selector.matchLabels"),
    ({"selector": {"matchLabels": {"app": "x\n"}}}, "spec.selector.matchLabels"),
    ({"selector": {"matchLabels": {"app": "x"}}, "port": "99999"}, "spec.port"),
    ({"selector": {"matchLabels": {"app": "x"}}, "port": "0"}, "spec.port"),
])
def test_semantic_problems_name_their_field(spec, field):
    parsed, problems = parse_advertisement(body(spec))
    assert parsed is None and [p.field for p in problems] == [field]


def test_selector_pod_prefers_ipv4_and_refuses_ipv6_only():
    spec, _ = parse_advertisement(body({"selector": {"matchLabels": {"app": "x"}}, "port": 80}))
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c"}]},
           "status": {"podIP": "fd00::5", "podIPs": [{"ip": "fd00::5"}, {"ip": "10.0.0.5"}],
                      "conditions": [{"type": "Ready", "status": "True"}]}}
    (advert,) = selected_pod_outcome(spec, pod, Identity("c")).adverts
    assert json.loads(advert.data)["host"] == "10.0.0.5"
    pod["status"]["podIPs"] = [{"ip": "fd00::5"}]
    outcome = selected_pod_outcome(spec, pod, Identity("c"))
    assert outcome.adverts == () and outcome.problems[0].field == "status.podIPs"


def test_long_fallback_instance_ids_stay_one_dns_label():
    name = stable_instance("s" * 60, "192.0.2.111")
    assert len(name) <= 63 and ann.id_problem(name) is None
    assert name == stable_instance("s" * 60, "192.0.2.111") != stable_instance("s" * 60, "192.0.2.112")
