from asab_operator.desired import Advert, DesiredState
from asab_operator.record import Owner


def advert(node, instance_id, created="2026-01-01T00:00:00Z", data=None, name=None):
    owner = Owner("Pod", "ns", name or node, "uid-" + node)
    return Advert(node=node, data=data or f"{node}:{instance_id}".encode(), instance_id=instance_id,
                  owner=owner, rank=(created, "Pod", "ns", owner.name))


def test_replace_reports_only_changed_nodes():
    state = DesiredState()
    a, b = advert("a", "i-a"), advert("b", "i-b")
    assert state.replace("s1", [a, b]).nodes == {"a", "b"}
    assert state.replace("s1", [a, b]).nodes == set()
    assert state.replace("s1", [a]).nodes == {"b"}
    assert state.records == {"a": a.data}
    assert state.replace("s1", []).nodes == {"a"}
    assert state.records == {}


def test_duplicate_instance_id_has_a_stable_winner_and_a_reported_loser():
    state = DesiredState()
    old, young = advert("old", "dup", "2026-01-01T00:00:00Z"), advert("young", "dup", "2026-06-01T00:00:00Z")
    assert state.replace("young", [young]).conflicts == []
    change = state.replace("old", [old])
    assert change.nodes == {"old", "young"}          # old written, young withdrawn
    assert [(c.loser.node, c.winner.node) for c in change.conflicts] == [("young", "old")]
    assert "is also claimed by Pod ns/old" in change.conflicts[0].message()
    assert state.records == {"old": old.data}
    # The same facts again: no flip, no second report.
    assert state.replace("young", [young]).conflicts == []
    assert state.replace("old", [old]).nodes == set()
    # Arrival order does not matter.
    other = DesiredState()
    other.replace("old", [old])
    other.replace("young", [young])
    assert other.records == state.records


def test_loser_takes_over_when_the_winner_goes():
    state = DesiredState()
    old, young = advert("old", "dup", "2026-01-01T00:00:00Z"), advert("young", "dup", "2026-06-01T00:00:00Z")
    state.replace("old", [old])
    state.replace("young", [young])
    change = state.replace("old", [])
    assert change.nodes == {"old", "young"}
    assert state.records == {"young": young.data}


def test_changing_instance_id_moves_the_claim():
    state = DesiredState()
    state.replace(("pod", "ns", "x"), [advert("x", "first")])
    state.replace(("pod", "ns", "y"), [advert("y", "second", "2026-09-01T00:00:00Z")])
    moved = advert("x", "second")   # older than y: takes "second" over
    change = state.replace(("pod", "ns", "x"), [moved])
    assert state.records == {"x": moved.data}
    assert [(c.loser.node, c.winner.node) for c in change.conflicts] == [("y", "x")]
    assert state.count_by_kind() == {"pod": 2}


def test_sources_are_counted_by_kind_as_they_come_and_go():
    state = DesiredState()
    state.replace(("pod", "ns", "a"), [advert("a", "i-a")])
    state.replace(("pod", "ns", "b"), [advert("b", "i-b")])
    state.replace(("pod", "ns", "b"), [advert("b", "i-b2")])       # changed, not new
    state.replace(("service", "ns", "s"), [advert("s", "i-s")])
    state.replace(("pod", "ns", "never"), [])                      # nothing: not counted
    assert state.count_by_kind() == {"pod": 2, "service": 1}
    state.replace(("pod", "ns", "a"), [])
    state.replace(("pod", "ns", "a"), [])                          # gone twice: counted once
    state.replace(("service", "ns", "s"), [])
    assert state.count_by_kind() == {"pod": 1, "service": 0}


def test_sync_gate_waits_for_every_listed_object():
    from asab_operator.freshness import SyncGate
    opened = []
    gate = SyncGate(lambda: opened.append(True))
    gate.handled("Pod", ("ns", "a"))              # handled before the listing is known: counts
    gate.expect({"Pod": {("ns", "a"), ("ns", "b")}, "Service": {("ns", "s")}})
    assert not gate.open and sorted(gate.pending()) == [("Pod", ("ns", "b")), ("Service", ("ns", "s"))]
    gate.handled("Pod", ("ns", "x"))              # not in the listing: not waited for
    gate.handled("Service", ("ns", "s"))
    assert not gate.open
    gate.handled("Pod", ("ns", "b"))
    assert gate.open and opened == [True]
    gate.handled("Pod", ("ns", "c"))
    assert opened == [True]


def test_sync_gate_opens_at_once_when_nothing_was_listed():
    from asab_operator.freshness import SyncGate
    opened = []
    gate = SyncGate(lambda: opened.append(True))
    gate.expect({"Pod": set(), "Service": set()})
    assert gate.open and opened == [True]
