"""The install paths as the tests use them: kustomize (kubectl's) and helm builds of
manifests/, built and cached by tests/env/build-control-plane.sh, and the operator's
ServiceAccount with exactly the RBAC those manifests grant.

With ASAB_TEST_OPERATOR_IDENTITY=serviceaccount the harness runs every operator as that
ServiceAccount (a TokenRequest token), so a permission missing from the manifests fails
the end-to-end test that needs it.
"""
from __future__ import annotations

import functools
import os
import pathlib
import subprocess

import kubernetes
import yaml

import localenv

REPO = pathlib.Path(__file__).resolve().parents[1]
BASE = REPO / "manifests" / "base"
CHART = REPO / "manifests" / "helm" / "asab-discovery-operator"
NAMESPACE, ACCOUNT = "asab-system", "asab-discovery-operator"
PROJECTION_ROLE, KEY_ROLE = f"{ACCOUNT}-projection", f"{ACCOUNT}-key"
BACKUP_SECRET = "asab-internal-auth-key-backup"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def as_service_account() -> bool:
    return os.environ.get("ASAB_TEST_OPERATOR_IDENTITY", "admin") == "serviceaccount"


@functools.cache
def tool(name: str) -> str:
    return localenv.build_binaries()[name]


def run(name: str, *args: str, stdin: str | None = None, kubeconfig: str | None = None) -> str:
    env = dict(os.environ, KUBECONFIG=kubeconfig or str(localenv.STATE / "kubeconfig"),
               HELM_CACHE_HOME=str(localenv.STATE / "helm" / "cache"),
               HELM_CONFIG_HOME=str(localenv.STATE / "helm" / "config"),
               HELM_DATA_HOME=str(localenv.STATE / "helm" / "data"))
    result = subprocess.run([tool(name), *args], input=stdin, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(path: pathlib.Path = BASE) -> list[dict]:
    return documents(run("kubectl", "kustomize", str(path)))


def helm_template(*args: str, release: str = ACCOUNT, namespace: str = NAMESPACE) -> list[dict]:
    return documents(run("helm", "template", release, str(CHART), "--namespace", namespace, *args))


def apply(objects: list[dict], *flags: str) -> str:
    """Server-side apply as the admin (flags such as --dry-run=server)."""
    return run("kubectl", "apply", "--server-side", "--force-conflicts", "--field-manager", "asab-tests",
               "-f", "-", *flags, stdin=yaml.safe_dump_all(objects))


def install_service_account(api_client) -> tuple[str, str]:
    """The base's Namespace, ServiceAccount, RBAC and empty key backup Secret, applied for
    real; returns a kubeconfig with the ServiceAccount's token, and its user name."""
    wanted = [o for o in kustomize() if o["kind"] in RBAC_KINDS | {"Namespace"}
              or (o["kind"] == "Secret" and o["metadata"]["name"] == BACKUP_SECRET)]
    apply(wanted)
    core = kubernetes.client.CoreV1Api(api_client)
    token = core.create_namespaced_service_account_token(
        ACCOUNT, NAMESPACE, {"spec": {"expirationSeconds": 86400}}).status.token
    path = localenv.STATE / "kubeconfig-serviceaccount"
    localenv.write_kubeconfig(path, localenv.apiserver_port(), ACCOUNT, token)
    return str(path), f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"


def grant_namespace(api_client, namespace: str) -> None:
    """What an installation grants in a namespace that is a projection target and the key's
    namespace: RoleBindings to the two ClusterRoles, and the empty backup Secret."""
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    subject = [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}]
    for role in (PROJECTION_ROLE, KEY_ROLE):
        rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subject})
    kubernetes.client.CoreV1Api(api_client).create_namespaced_secret(namespace, {
        "metadata": {"name": BACKUP_SECRET, "labels": {"app.kubernetes.io/managed-by": ACCOUNT}},
        "type": "Opaque"})
