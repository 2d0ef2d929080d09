import pytest

from asab_operator import annotations as ann
from asab_operator.annotations import parse_annotations

SERVICE = {ann.SERVICE_ID: "my-app"}


def test_minimal_spec_has_defaults():
    spec, problems = parse_annotations(SERVICE)
    assert problems == ()
    assert spec == ann.AdvertiseSpec(service_id="my-app")


def test_every_key_parsed():
    spec, problems = parse_annotations({
        ann.SERVICE_ID: "my-app", ann.INSTANCE_ID: "my-app-1", ann.PORT: "8443",
        ann.NODE_ID: "node-7", ann.HOST: "ip",
        ann.DISCOVERY: '{"team": ["blue", "blue", "red"], "zone": ["eu-1"]}',
    })
    assert problems == ()
    assert spec.instance_id == "my-app-1"
    assert spec.port == 8443
    assert spec.node_id == "node-7"
    assert spec.discovery == (("team", ("blue", "red")), ("zone", ("eu-1",)))


def test_port_name_kept_for_lookup():
    spec, _ = parse_annotations({**SERVICE, ann.PORT: "metrics"})
    assert spec.port == "metrics"


# Every bad input names the annotation it is about, and says why.
BAD = [
    ({ann.PORT: "0"}, ann.PORT, "out of range"),
    ({ann.PORT: "65536"}, ann.PORT, "out of range"),
    ({ann.PORT: "-1"}, ann.PORT, "neither a port number"),
    ({ann.PORT: "80.5"}, ann.PORT, "neither a port number"),
    ({ann.PORT: "Http"}, ann.PORT, "neither a port number"),
    ({ann.PORT: "a-very-long-port-name"}, ann.PORT, "neither a port number"),
    ({ann.DISCOVERY: "{not json"}, ann.DISCOVERY, "invalid JSON"),
    ({ann.DISCOVERY: "[]"}, ann.DISCOVERY, "must be a JSON object"),
    ({ann.DISCOVERY: '"team"'}, ann.DISCOVERY, "must be a JSON object"),
    ({ann.DISCOVERY: '{"team": "blue"}'}, ann.DISCOVERY, "non-empty JSON list"),
    ({ann.DISCOVERY: '{"team": []}'}, ann.DISCOVERY, "non-empty JSON list"),
    ({ann.DISCOVERY: '{"team": [1]}'}, ann.DISCOVERY, "is not a string"),
    ({ann.DISCOVERY: '{"my.team": ["blue"]}'}, ann.DISCOVERY, "no dots"),
    ({ann.DISCOVERY: '{"": ["blue"]}'}, ann.DISCOVERY, "one DNS label"),
    ({ann.DISCOVERY: '{"Team": ["blue"]}'}, ann.DISCOVERY, "lower-case"),
    ({ann.DISCOVERY: '{"team": ["blue sky"]}'}, ann.DISCOVERY, "cannot appear in a"),
    ({ann.DISCOVERY: '{"team": ["x/y"]}'}, ann.DISCOVERY, "cannot appear in a"),
    ({ann.DISCOVERY: '{"team": ["a..b"]}'}, ann.DISCOVERY, "cannot appear in a"),
    ({ann.DISCOVERY: '{"service_id": ["other"]}'}, ann.DISCOVERY, "set by its own annotation"),
    ({ann.SERVICE_ID: ""}, ann.SERVICE_ID, "must not be empty"),
    ({ann.SERVICE_ID: "My-App"}, ann.SERVICE_ID, "cannot appear in a"),
    ({ann.SERVICE_ID: "my app"}, ann.SERVICE_ID, "cannot appear in a"),
    ({ann.SERVICE_ID: "a" * 254}, ann.SERVICE_ID, "longer than 253"),
    ({ann.SERVICE_ID: "x" * 64}, ann.SERVICE_ID, "cannot appear in a"),
    ({ann.INSTANCE_ID: "-leading-dash"}, ann.INSTANCE_ID, "cannot appear in a"),
    ({ann.NODE_ID: " "}, ann.NODE_ID, "1-253 characters"),
    ({ann.HOST: "dns"}, ann.HOST, "unknown host mode"),
    ({"discovery.asab/servce-id": "typo"}, "discovery.asab/servce-id", "unknown annotation on a Pod"),
    ({"discovery.asab/mode": "service"}, "discovery.asab/mode", "unknown annotation on a Pod"),
]


@pytest.mark.parametrize("extra, field, reason", BAD, ids=[f"{f}={list(e.values())[0]!r}"[:60] for e, f, _ in BAD])
def test_bad_input_names_the_annotation(extra, field, reason):
    spec, problems = parse_annotations({**SERVICE, **extra})
    assert spec is None
    assert [p.field for p in problems] == [field]
    assert reason in problems[0].reason


def test_missing_service_id_is_a_problem_when_other_keys_are_set():
    spec, problems = parse_annotations({ann.PORT: "8080"})
    assert spec is None
    assert [p.field for p in problems] == [ann.SERVICE_ID]


def test_several_problems_reported_together():
    _, problems = parse_annotations({ann.SERVICE_ID: "ok", ann.PORT: "x y", ann.DISCOVERY: "[]"})
    assert {p.field for p in problems} == {ann.PORT, ann.DISCOVERY}


def test_not_annotated():
    assert not ann.is_annotated({})
    assert not ann.is_annotated(None)
    assert not ann.is_annotated({"other.io/x": "1"})
    assert ann.is_annotated({ann.PORT: "1"})


def test_service_keys():
    spec, problems = parse_annotations({**SERVICE, ann.MODE: "service", ann.INSTANCE_ID: "front"}, "Service")
    assert problems == () and spec.mode == "service" and spec.instance_id == "front"
    _, problems = parse_annotations({**SERVICE, ann.MODE: "proxy"}, "Service")
    assert [p.field for p in problems] == [ann.MODE]
    _, problems = parse_annotations({**SERVICE, ann.INSTANCE_ID: "x"}, "Service")
    assert [p.field for p in problems] == [ann.INSTANCE_ID] and "endpoints mode" in problems[0].reason
    _, problems = parse_annotations({**SERVICE, ann.HOST: "ip"}, "Service")
    assert [p.field for p in problems] == [ann.HOST]


@pytest.mark.parametrize("value", ["8\u00b2", "\u0668\u0660", "\uff18\uff10", "+80", "00", "ht tp", " 8 0 "])
def test_ports_that_only_look_like_numbers_or_names(value):
    _, problems = parse_annotations({**SERVICE, ann.PORT: value})
    assert [p.field for p in problems] == [ann.PORT]


@pytest.mark.parametrize("value, reason", [
    ('{"t":' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ('{"team": ["a"], "team": ["b"]}', "appears twice"),
    ('{"team": ["blue\\n"]}', "cannot appear in a"),
    ('{"team\\n": ["blue"]}', "one DNS label"),
    ('{"team": ["' + "a" * 70000 + '"]}', "longer than"),
])
def test_discovery_edge_cases(value, reason):
    _, problems = parse_annotations({**SERVICE, ann.DISCOVERY: value})
    assert [p.field for p in problems] == [ann.DISCOVERY] and reason in problems[0].reason


def test_whitespace_around_annotation_values_is_ignored_but_not_inside_json():
    spec, problems = parse_annotations({ann.SERVICE_ID: "shop\n", ann.INSTANCE_ID: " shop-1 ", ann.PORT: "http\n"})
    assert problems == () and (spec.service_id, spec.instance_id, spec.port) == ("shop", "shop-1", "http")
