"""Which replicas share an election: those that would write the same things."""
from asab_operator.leadership import election_path


def test_replicas_of_one_identity_and_scope_share_an_election():
    assert election_path("asab", "abc", ()) == "/asab/k8s-operator/abc-cluster/election"
    assert election_path("/asab/", "abc", ()) == election_path("asab", "abc", ())
    assert election_path("asab", "abc", ("b", "a")) == election_path("asab", "abc", ("a", "b"))


def test_other_identities_scopes_and_paths_elect_apart():
    paths = {election_path("asab", "abc", ()), election_path("asab", "xyz", ()),
             election_path("asab", "abc", ("shop",)), election_path("asab", "abc", ("shop", "billing")),
             election_path("prod/asab", "abc", ())}
    assert len(paths) == 5
