import json
import re

from asab_operator.record import Identity, asab_time, marker_of, node_name, owned_by


def test_node_names_are_stable_and_never_asab_like():
    identity = Identity("cluster-a")
    name = node_name(identity, "Pod", "ns", "1234567890")
    assert name == node_name(Identity("cluster-a"), "Pod", "ns", "1234567890")
    assert name != node_name(Identity("cluster-b"), "Pod", "ns", "1234567890")
    # ASAB names its nodes <AppClass>.<10 digits>; ours never match that shape.
    assert not re.fullmatch(r"[^~]+\.\d{10}", name)
    assert "/" not in name


def test_asab_time_format():
    assert asab_time("2026-12-03T15:02:30Z") == "2026-12-03T15:02:30.000000Z"
    assert asab_time(None) is None


def test_ownership():
    identity = Identity("cluster-a")
    ours = json.dumps({"host": "h", "asab_operator": {"cluster": "cluster-a"}}).encode()
    theirs = json.dumps({"host": "h", "asab_operator": {"cluster": "cluster-b"}}).encode()
    asab_own = b'{"host": "vm", "web": [["0.0.0.0", 80]]}'
    assert owned_by(identity, ours)
    assert not owned_by(identity, theirs)
    assert not owned_by(identity, asab_own)
    for junk in (b"", b"not json", b"[1]", b'"x"', b'{"asab_operator": "cluster-a"}', None):
        assert not owned_by(identity, junk)
        assert marker_of(junk) is None
