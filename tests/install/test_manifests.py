"""The two install paths, against the real API server: the kustomize base and overlay,
and the Helm chart. They apply (server-side dry run), they grant the same least
privilege, their CRDs are crds/ itself, and the chart lints clean.

The RBAC itself is exercised by `make test`'s second pass, which runs the end-to-end
suite with every operator as the ServiceAccount these manifests make (tests/manifests.py).
"""
from __future__ import annotations

import json
import pathlib
import subprocess

import kubernetes
import pytest
import yaml

import manifests
from asab_operator.config import SETTINGS

REPO = manifests.REPO
OVERLAY = REPO / "manifests" / "overlays" / "network-policy"


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def the(objects, kind):
    [found] = by_kind(objects, kind)
    return found


def crds_in_repo() -> dict[str, dict]:
    found = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        for body in yaml.safe_load_all(path.read_text()):
            if body and body.get("kind") == "CustomResourceDefinition":
                found[body["metadata"]["name"]] = body
    return found


def ensure_namespace(env, name):
    try:
        env.core.create_namespace({"metadata": {"name": name}})
    except kubernetes.client.ApiException as error:
        if error.status != 409:
            raise


def test_crds_have_one_source():
    chart_crds = manifests.CHART / "crds"
    assert chart_crds.is_symlink() and chart_crds.resolve() == (REPO / "crds").resolve(), \
        "the chart's crds/ must be the repository's crds/, not a copy"
    source = crds_in_repo()
    assert set(source) == {"advertisements.discovery.asab", "projections.discovery.asab"}
    from_helm = {c["metadata"]["name"]: c for c in by_kind(manifests.helm_template("--include-crds"),
                                                           "CustomResourceDefinition")}
    assert from_helm == source
    from_kustomize = {c["metadata"]["name"]: c for c in by_kind(manifests.kustomize(), "CustomResourceDefinition")}
    assert set(from_kustomize) == set(source)
    for name, crd in from_kustomize.items():
        assert crd["spec"] == source[name]["spec"]      # the base only adds its labels


@pytest.mark.parametrize("path", [manifests.BASE, OVERLAY], ids=["base", "network-policy"])
def test_kustomize_build_applies_with_a_server_dry_run(env, path):
    ensure_namespace(env, "asab-system")
    ensure_namespace(env, "zookeeper")
    objects = manifests.kustomize(path)
    out = manifests.apply(objects, "--dry-run=server")
    assert out.count("serverside-applied (server dry run)") == len(objects), out
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] not in
            {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "NetworkPolicy"}} \
        == {"asab-system"}
    if path == OVERLAY:
        policy = the(objects, "NetworkPolicy")
        assert policy["metadata"]["namespace"] == "zookeeper"


CHART_VALUES = [
    [],
    ["--set", "networkPolicy.enabled=true", "--set", "projection.targetNamespaces={zookeeper,default}",
     "--set", "keyKeeper.backupSecret=", "--set", "replicas=3", "--set", "watchNamespaces={default,zookeeper}"],
    ["--set", "keyKeeper.enabled=false", "--set", "podDisruptionBudget.enabled=false",
     "--set", "metrics.service.enabled=false", "--set", "leaderElection=false", "--set", "replicas=1"],
]


@pytest.mark.parametrize("values", CHART_VALUES, ids=["defaults", "targets-and-policy", "minimal"])
def test_helm_template_applies_with_a_server_dry_run(env, values):
    ensure_namespace(env, "asab-system")
    ensure_namespace(env, "zookeeper")
    objects = manifests.helm_template(*values)
    out = manifests.apply(objects, "--dry-run=server")
    assert out.count("serverside-applied (server dry run)") == len(objects), out


def test_chart_values_reach_the_operator():
    objects = manifests.helm_template(
        "--set", "projection.targetNamespaces={shop,billing}", "--set", "watchNamespaces={shop,billing}",
        "--set", r"zookeeper.servers=zk-0:2181\,zk-1:2181/prod", "--set", "leaderElection=false",
        "--set", "replicas=1", "--set", "keyKeeper.backupSecret=")
    config = the(objects, "ConfigMap")["data"]
    assert config["ASAB_OPERATOR_ZOOKEEPER_SERVERS"] == "zk-0:2181,zk-1:2181/prod"
    assert config["ASAB_OPERATOR_NAMESPACES"] == "shop,billing"
    assert config["ASAB_OPERATOR_LEADER_ELECTION"] == "off"
    bindings = {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in by_kind(objects, "RoleBinding")}
    assert bindings == {("asab-system", "asab-discovery-operator-projection"),
                        ("shop", "asab-discovery-operator-projection"),
                        ("billing", "asab-discovery-operator-projection"),
                        ("asab-system", "asab-discovery-operator-key")}
    key_role = next(r for r in by_kind(objects, "ClusterRole") if r["metadata"]["name"].endswith("-key"))
    assert not [rule for rule in key_role["rules"] if "secrets" in rule["resources"]], \
        "no backup Secret: no right to any Secret"
    assert not by_kind(objects, "Secret")


def test_unsafe_replica_settings_are_refused_or_adjusted():
    assert not by_kind(manifests.helm_template("--set", "replicas=1"), "PodDisruptionBudget"), \
        "minAvailable: 1 with one replica blocks node drains"
    assert the(manifests.helm_template(), "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    with pytest.raises(AssertionError, match="leaderElection: false runs every replica as a writer"):
        manifests.helm_template("--set", "leaderElection=false")


def test_every_variable_the_manifests_set_is_an_operator_setting():
    known = {env for _, env, _, _ in SETTINGS}
    for objects in (manifests.kustomize(), manifests.helm_template()):
        config = set(the(objects, "ConfigMap")["data"])
        container = the(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        variables = config | {e["name"] for e in container["env"]}
        assert variables <= known, f"not settings of the operator: {variables - known}"
        assert "ASAB_OPERATOR_INSTANCE_NAME" in variables and "ASAB_OPERATOR_ZOOKEEPER_SERVERS" in variables


def test_both_install_paths_grant_the_same_least_privilege_and_harden_alike():
    kustomized, helmed = manifests.kustomize(), manifests.helm_template()

    def roles(objects):
        # Names differ by the release name; the rules must not.
        return {r["metadata"]["name"].rsplit("operator", 1)[1]: r["rules"] for r in by_kind(objects, "ClusterRole")}
    assert roles(kustomized) == roles(helmed)
    cluster_wide = roles(kustomized)[""]
    writes = {(group, resource) for rule in cluster_wide for group in rule["apiGroups"]
              for resource in rule["resources"] if set(rule["verbs"]) - {"get", "list", "watch"}}
    assert writes == {("", "events"), ("discovery.asab", "advertisements/status"),
                      ("discovery.asab", "projections/status")}, \
        "cluster-wide the operator writes only Events and its own resources' status"
    assert not by_kind(kustomized, "Role") and not by_kind(helmed, "Role")
    for objects in (kustomized, helmed):
        for binding in by_kind(objects, "ClusterRoleBinding"):
            assert not binding["roleRef"]["name"].endswith(("-projection", "-key")), \
                "projection and key rights are bound per namespace, never cluster-wide"
        secret_rules = [rule for r in by_kind(objects, "ClusterRole") for rule in r["rules"]
                        if "secrets" in rule["resources"]]
        assert secret_rules == [{"apiGroups": [""], "resources": ["secrets"],
                                 "resourceNames": ["asab-internal-auth-key-backup"],
                                 "verbs": ["get", "patch"]}]

    def hardening(objects):
        pod = the(objects, "Deployment")["spec"]["template"]["spec"]
        container = pod["containers"][0]
        return (pod["securityContext"], container["securityContext"], container["livenessProbe"],
                container["readinessProbe"], container["resources"], container["ports"],
                the(objects, "Deployment")["spec"]["replicas"], the(objects, "PodDisruptionBudget")["spec"]["minAvailable"])
    assert hardening(kustomized) == hardening(helmed)
    pod_security, container_security, *_ = hardening(kustomized)
    assert pod_security["runAsNonRoot"] is True and pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container_security == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                   "capabilities": {"drop": ["ALL"]}}


def test_service_monitor_selects_the_metrics_service():
    objects = manifests.helm_template("--set", "metrics.serviceMonitor.enabled=true",
                                      "--set", "metrics.serviceMonitor.labels.release=prometheus")
    monitor, service = the(objects, "ServiceMonitor"), the(objects, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


def test_helm_lint_is_clean():
    out = manifests.run("helm", "lint", "--strict", str(manifests.CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


def test_crds_install_and_reject_a_malformed_resource(env):
    manifests.apply(manifests.kustomize(REPO / "crds"))
    custom = kubernetes.client.CustomObjectsApi(env.api_client)
    ensure_namespace(env, "asab-system")
    for plural, kind, spec, field in (
            ("projections", "Projection", {"ids": "not-a-list"}, "spec.ids"),
            ("advertisements", "Advertisement", {"serviceId": "a", "host": "h", "port": 0}, "spec.port")):
        with pytest.raises(kubernetes.client.ApiException) as rejected:
            custom.create_namespaced_custom_object("discovery.asab", "v1alpha1", "asab-system", plural, {
                "apiVersion": "discovery.asab/v1alpha1", "kind": kind, "metadata": {"name": "bad"}, "spec": spec})
        assert rejected.value.status == 422
        assert field in json.loads(rejected.value.body)["message"]


def test_shell_scripts_are_shellcheck_clean():
    scripts = sorted(str(p) for p in [*(REPO / "scripts").glob("*.sh"), *(REPO / "tests" / "env").glob("*.sh"),
                                      REPO / ".ci" / "run"])
    result = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_dockerfile_runs_as_non_root_from_a_slim_base_without_build_tools():
    stages = pathlib.Path(REPO / "Dockerfile").read_text().split("\nFROM ")[1:]
    final = stages[-1]
    assert final.startswith("python:3.11-slim") and len(stages) == 2, "two stages, a slim final base"
    assert "USER 10001" in final and "COPY --from=build /opt/operator" in final
    assert not any(word in final for word in ("pip install", "apt-get", "gcc", "COPY operator")), \
        "the final stage installs nothing: it only takes the built virtualenv"
