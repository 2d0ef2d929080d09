from asab_operator.plan import ObservedNode, Plan, incremental_plan, reconcile_plan
from asab_operator.record import Identity

ME = Identity("me")


def ours(text: str) -> bytes:
    return ('{"host": "%s", "asab_operator": {"cluster": "me"}}' % text).encode()


def foreign(text: str) -> bytes:
    return ('{"host": "%s", "asab_operator": {"cluster": "other"}}' % text).encode()


def test_incremental_creates_updates_deletes_and_skips_unchanged():
    plan = incremental_plan(
        names={"new", "changed", "same", "gone", "never"},
        desired={"new": ours("1"), "changed": ours("2"), "same": ours("3")},
        written={"changed": ours("old"), "same": ours("3"), "gone": ours("4")})
    assert plan.create == {"new": ours("1")}
    assert plan.update == {"changed": ours("2")}
    assert plan.delete == ("gone",)
    assert plan.writes == 3


def test_incremental_nothing_changed_means_nothing_written():
    assert incremental_plan({"a"}, {"a": ours("1")}, {"a": ours("1")}) == Plan()


def test_reconcile_touches_only_our_nodes():
    observed = {
        "ASABApp.0000000001": ObservedNode(b'{"host": "vm"}', 77, 0),
        "theirs": ObservedNode(foreign("x"), 77, 0),
        "junk": ObservedNode(b"not json", 0, 0),
        "ours-stale-data": ObservedNode(ours("old"), 5, 0),
        "ours-right": ObservedNode(ours("ok"), 5, 0),
        "ours-unwanted": ObservedNode(ours("bye"), 5, 0),
        "ours-old-session": ObservedNode(ours("s"), 4, 0),
    }
    desired = {"ours-stale-data": ours("new"), "ours-right": ours("ok"), "ours-old-session": ours("s"),
               "missing": ours("m")}
    plan = reconcile_plan(desired, observed, ME, session_id=5, allow_delete=True)
    assert plan.create == {"missing": ours("m")}
    assert plan.update == {"ours-stale-data": ours("new")}
    assert plan.replace == {"ours-old-session": ours("s")}
    assert plan.delete == ("ours-unwanted",)
    assert plan.in_place == {"ours-right": ours("ok")}
    assert plan.conflicts == ()


def test_reconcile_deletes_nothing_before_the_listing_is_complete():
    observed = {"ours-unwanted": ObservedNode(ours("bye"), 5, 0)}
    assert reconcile_plan({}, observed, ME, 5, allow_delete=False).delete == ()


def test_a_foreign_node_holding_our_name_is_a_conflict_not_a_write():
    observed = {"wanted": ObservedNode(foreign("x"), 9, 0)}
    plan = reconcile_plan({"wanted": ours("me")}, observed, ME, 5, allow_delete=True)
    assert plan.conflicts == ("wanted",)
    assert plan.writes == 0


def test_reconcile_of_a_converged_state_writes_nothing():
    observed = {f"n{i}": ObservedNode(ours(str(i)), 5, 0) for i in range(100)}
    desired = {f"n{i}": ours(str(i)) for i in range(100)}
    plan = reconcile_plan(desired, observed, ME, 5, allow_delete=True)
    assert plan.writes == 0 and len(plan.in_place) == 100


def test_reconcile_leaves_nodes_of_namespaces_it_does_not_watch():
    a = b'{"host": "h", "asab_operator": {"cluster": "me", "namespace": "a"}}'
    b = b'{"host": "h", "asab_operator": {"cluster": "me", "namespace": "b"}}'
    observed = {"in-a": ObservedNode(a, 5, 0), "in-b": ObservedNode(b, 5, 0)}
    plan = reconcile_plan({}, observed, ME, 5, allow_delete=True, namespaces=frozenset({"a"}))
    assert plan.delete == ("in-a",)
