"""The pure core of projection (ZooKeeper -> Kubernetes); the controller around it is issue 5's."""
import json

import pytest

from asab_operator.projection import Selection, hostname_of, project, service_name
from asab_operator.sources.asab_records import read_instance

ASAB_OWN = {"host": "vm", "appclass": "ASABMyApplication", "launch_time": "2026-12-03T15:02:30.322839Z",
            "process_id": 11212, "instance_id": "my-app-1", "node_id": "node1", "service_id": "my-app",
            "web": [["0.0.0.0", 18080]]}


def data(**record):
    return json.dumps(record).encode()


def test_reads_asabs_own_record():
    instance, why = read_instance("ASABMyApplication.0000000001", json.dumps(ASAB_OWN).encode())
    assert why is None
    assert instance.host == "vm" and instance.ports == (18080,)
    assert instance.ids == (("instance_id", "my-app-1"), ("service_id", "my-app"))


@pytest.mark.parametrize("web, ports", [
    ([["0.0.0.0", 8080], ["0.0.0.0", 8080], ["::", 8080, 0, 0]], (8080,)),   # listen 8080
    ([["0.0.0.0", 8080]], (8080,)),
    ([["127.0.0.1", 8081]], None),                                           # specific address: ignored
    ([["::", 8082, 0, 0]], (8082,)),
    ([["0.0.0.0"]], None),
    (["0.0.0.0"], None),
])
def test_web_entries_follow_asabs_rules(web, ports):
    instance, why = read_instance("n", data(host="h", instance_id="i", web=web))
    assert (instance.ports if instance else None) == ports


@pytest.mark.parametrize("raw, why", [
    (b"", "empty"), (None, "empty"), (b"{bad", "not JSON"), (b"[1]", "not a JSON object"), (b'"x"', "not a JSON object"),
    (data(web=[["0.0.0.0", 80]]), "no host"), (data(host="h"), "no web"), (data(host="h", web=None), "no web"),
    (("[" * 5000).encode(), "not JSON"),
])
def test_records_that_do_not_count_say_why(raw, why):
    instance, reason = read_instance("n", raw)
    assert instance is None and reason == why


def test_custom_ids_and_a_string_discovery_value_is_not_split_into_characters():
    instance, _ = read_instance("n", data(host="h", instance_id="i", web=[["0.0.0.0", 1]],
                                          discovery={"team": ["blue", "red"], "bad": "abc"}))
    assert ("team", "blue") in instance.ids and ("team", "red") in instance.ids
    assert not any(t == "bad" for t, _ in instance.ids)


def instances(*records):
    return [read_instance(f"node-{i}", data(**r))[0] for i, r in enumerate(records)]


def test_one_service_per_id_with_slices_by_address_type_and_port():
    found, skipped = project(instances(
        dict(host="10.0.0.1", instance_id="a-1", service_id="a", web=[["0.0.0.0", 80]]),
        dict(host="10.0.0.2", instance_id="a-2", service_id="a", web=[["0.0.0.0", 80]]),
        dict(host="fd00::3", instance_id="a-3", service_id="a", web=[["::", 80, 0, 0]]),
        dict(host="10.0.0.4", instance_id="a-4", service_id="a", web=[["0.0.0.0", 81]]),
        dict(host="10.0.0.9", instance_id="b-1", service_id="b", web=[["0.0.0.0", 90]]),
    ), Selection(), "{id}", None, {})
    assert skipped == []
    (a, b) = found
    assert (a.name, a.port, b.name) == ("a", 80, "b")
    assert [(s.address_type, s.port, [e.address for e in s.endpoints]) for s in a.slices] == [
        ("IPv4", 80, ["10.0.0.1", "10.0.0.2"]), ("IPv4", 81, ["10.0.0.4"]), ("IPv6", 80, ["fd00::3"])]
    assert a.slices[0].endpoints[0].hostname == "a-1"


def test_own_records_are_not_projected_back_but_other_clusters_are():
    mine = dict(host="10.0.0.1", instance_id="x", service_id="s", web=[["0.0.0.0", 80]],
                asab_operator={"cluster": "me"})
    theirs = dict(mine, host="10.0.0.2", instance_id="y", asab_operator={"cluster": "other"})
    (service,), _ = project(instances(mine, theirs), Selection(), "{id}", "me", {})
    assert [e.address for s in service.slices for e in s.endpoints] == ["10.0.0.2"]


def test_dns_hosts_resolve_or_are_reported():
    found, skipped = project(instances(
        dict(host="db.example", instance_id="d-1", service_id="d", web=[["0.0.0.0", 5432]]),
        dict(host="nowhere.invalid", instance_id="d-2", service_id="d", web=[["0.0.0.0", 5432]]),
    ), Selection(), "{id}", None, {"db.example": ("192.0.2.7",), "nowhere.invalid": ()})
    assert [e.address for s in found[0].slices for e in s.endpoints] == ["192.0.2.7"]
    assert skipped == ["node-1: host 'nowhere.invalid' does not resolve"]


def test_names_are_deterministic_and_collisions_reported_not_merged():
    assert service_name("{id}", "my-app") == "my-app"
    assert service_name("asab-{id}", "my-app") == "asab-my-app"
    odd = service_name("{id}", "My_App")
    assert odd == service_name("{id}", "My_App") and odd.startswith("my-app-") and len(odd) <= 63
    assert service_name("{id}", "my_app") != service_name("{id}", "my.app")
    assert service_name("{id}", "9lives").startswith("x-9lives-")
    assert len(service_name("{id}", "a" * 300)) <= 63
    found, skipped = project(instances(
        dict(host="10.0.0.1", instance_id="i1", service_id="x-1", web=[["0.0.0.0", 1]]),
        dict(host="10.0.0.2", instance_id="i2", service_id="x-2", web=[["0.0.0.0", 1]]),
    ), Selection(), "{id}", None, {})
    assert [s.name for s in found] == ["x-1", "x-2"] and skipped == []
    # An id that is a valid name equal to another id's mapped name: reported, not merged.
    found, skipped = project(instances(
        dict(host="10.0.0.1", instance_id="i1", service_id="My_App", web=[["0.0.0.0", 1]]),
        dict(host="10.0.0.2", instance_id="i2", service_id=odd, web=[["0.0.0.0", 1]]),
    ), Selection(), "{id}", None, {})
    assert [(s.id, s.name) for s in found] == [("My_App", odd)]
    assert skipped == [f"service_id {odd!r}: its Service name {odd!r} is taken by 'My_App'; not projected"]
    assert service_name("{id}.x", "a") != "a.x"   # dots are not allowed in a Service name


def test_selection_by_list_pattern_and_other_id_types():
    recs = instances(dict(host="10.0.0.1", instance_id="i1", service_id="shop-a", web=[["0.0.0.0", 1]],
                          discovery={"team": ["blue"]}),
                     dict(host="10.0.0.2", instance_id="i2", service_id="db", web=[["0.0.0.0", 1]]))
    assert [s.id for s in project(recs, Selection(patterns=("shop-*",)), "{id}", None, {})[0]] == ["shop-a"]
    assert [s.id for s in project(recs, Selection(ids=("db",)), "{id}", None, {})[0]] == ["db"]
    assert [s.id for s in project(recs, Selection(id_type="team"), "{id}", None, {})[0]] == ["blue"]
    assert [s.id for s in project(recs, Selection(id_type="instance_id"), "{id}", None, {})[0]] == ["i1", "i2"]


def test_hostnames():
    assert hostname_of("my-app-1") == "my-app-1"
    assert hostname_of("My_App.1") != "My_App.1" and len(hostname_of("x" * 100)) <= 63
