"""What the end-to-end tests, the demo and the benchmarks share: the local environment's
clients, Pods made Ready by hand, the operator and the ASAB peer as real processes.

Everything here talks to real components: the kube-apiserver and ZooKeeper that
`tests/env/localenv.py up` started, and real `asab-operator` / `asab` processes.
"""
from __future__ import annotations

import contextlib
import http.server
import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import kubernetes
from kazoo.client import KazooClient

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "env"))
import localenv  # noqa: E402
import manifests  # noqa: E402

PYTHON = sys.executable
OPERATOR = [PYTHON, "-m", "asab_operator"]
PEER = [PYTHON, str(REPO / "tests" / "peers" / "asab_peer.py")]


def eventually(check, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    """Poll `check()` until it returns something truthy; fail with the last value.
    An API error (such as 404 before an object exists) counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (kubernetes.client.ApiException, KeyError) as error:
            last = error
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last value: {last!r}")


def free_port() -> int:
    return localenv.free_port()


# --- the local environment -------------------------------------------------

class Environment:
    """The running local environment: where its API server and ZooKeeper are."""

    def __init__(self) -> None:
        state = localenv.STATE
        if not (state / "kubeconfig").exists() or not (state / "zookeeper").exists():
            raise RuntimeError("the local environment is not up: run `make up` (or `make test`)")
        self.kubeconfig = str(state / "kubeconfig")
        self.operator_kubeconfig = str(state / "kubeconfig-operator")
        self.audit_log = state / "audit.log"
        self.zookeeper = (state / "zookeeper").read_text().strip()
        self.api_client = kubernetes.config.new_client_from_config(config_file=self.kubeconfig)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.operator_user = "asab-operator"      # a static token in system:masters
        if manifests.as_service_account():
            # The operator runs with the RBAC of manifests/base and nothing more.
            self.operator_kubeconfig, self.operator_user = manifests.install_service_account(self.api_client)
            self._grant("default")     # the operators' default key namespace

    def install_crds(self) -> None:
        """Apply every CustomResourceDefinition in crds/ (create, or replace when present)."""
        import yaml
        api = kubernetes.client.ApiextensionsV1Api(self.api_client)
        for path in sorted((REPO / "crds").glob("*.yaml")):
            for body in yaml.safe_load_all(path.read_text()):
                if body.get("kind") != "CustomResourceDefinition":
                    continue   # crds/kustomization.yaml
                try:
                    current = api.read_custom_resource_definition(body["metadata"]["name"])
                    body["metadata"]["resourceVersion"] = current.metadata.resource_version
                    api.replace_custom_resource_definition(body["metadata"]["name"], body)
                except kubernetes.client.ApiException as error:
                    if error.status != 404:
                        raise
                    api.create_custom_resource_definition(body)
                eventually(lambda: any(c.type == "Established" and c.status == "True" for c in
                                       api.read_custom_resource_definition(body["metadata"]["name"]).status.conditions or ()),
                           30, 0.1, f"CRD {body['metadata']['name']} to be established")

    def audit_mark(self) -> int:
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def writes_since(self, mark: int, user: str | None = None) -> list[str]:
        """Kubernetes writes (create/update/patch/delete) by `user` (default: the operators')
        since `mark`, from the audit log."""
        user = user or self.operator_user
        with open(self.audit_log, "rb") as log:
            log.seek(mark)
            lines = log.read().decode(errors="replace").splitlines()
        writes = []
        for line in lines:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("user", {}).get("username") == user:
                    ref = entry.get("objectRef", {})
                    writes.append(f"{entry['verb']} {ref.get('resource')} {ref.get('namespace')}/{ref.get('name')}")
        return writes

    def zk(self, **kwargs) -> KazooClient:
        kwargs.setdefault("connection_retry", {"max_tries": -1, "max_delay": 1})
        client = KazooClient(hosts=self.zookeeper, **kwargs)
        client.start(timeout=15)
        return client

    def process_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, PYTHONUNBUFFERED="1")
        env.update(extra)
        return env

    # --- namespaces and Pods ---

    def namespace(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.core.create_namespace({"metadata": {"name": name}})
        self._grant(name)
        return name

    def _grant(self, namespace: str) -> None:
        """As the ServiceAccount, each test namespace is a projection target and a key
        namespace, as an installation makes its own namespace."""
        if manifests.as_service_account():
            with contextlib.suppress(kubernetes.client.ApiException):   # 409: granted before
                manifests.grant_namespace(self.api_client, namespace)

    def create_pod(self, namespace: str, name: str, annotations: dict | None = None,
                   ports: list[dict] | None = None, node_name: str | None = "node-a",
                   labels: dict | None = None) -> dict:
        ports = [{"name": "http", "containerPort": 8080}] if ports is None else ports
        body = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations or {}, "labels": labels or {}},
            "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1", "ports": ports}]},
        }
        if node_name:
            body["spec"]["nodeName"] = node_name
        return self.core.create_namespaced_pod(namespace, body).to_dict()

    def set_ready(self, namespace: str, name: str, ip: str | None, ready: bool = True) -> None:
        """What a kubelet would report: an IP, a start time and the Ready condition."""
        status = {"phase": "Running", "startTime": "2026-12-03T10:00:00Z",
                  "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        if ip:
            status["podIP"] = ip
        self.core.patch_namespaced_pod_status(name, namespace, {"status": status})

    def annotate(self, namespace: str, name: str, annotations: dict) -> None:
        """Set (value) or remove (None) annotations on a Pod."""
        self.core.patch_namespaced_pod(name, namespace, {"metadata": {"annotations": annotations}})

    def delete_pod(self, namespace: str, name: str, grace: int | None = 0) -> None:
        with contextlib.suppress(kubernetes.client.ApiException):
            self.core.delete_namespaced_pod(name, namespace, grace_period_seconds=grace)

    def clean_namespace(self, namespace: str) -> None:
        """No controller-manager runs here: delete what a test made by hand. The custom
        resources go first, so that no Projection projects into the namespace afterwards."""
        custom = kubernetes.client.CustomObjectsApi(self.api_client)
        for plural in ("projections", "advertisements"):
            with contextlib.suppress(kubernetes.client.ApiException):
                custom.delete_collection_namespaced_custom_object("discovery.asab", "v1alpha1", namespace, plural)
        for pod in self.core.list_namespaced_pod(namespace).items:
            self.delete_pod(namespace, pod.metadata.name)
        for service in self.core.list_namespaced_service(namespace).items:
            with contextlib.suppress(kubernetes.client.ApiException):
                self.core.delete_namespaced_service(service.metadata.name, namespace)
        discovery = kubernetes.client.DiscoveryV1Api(self.api_client)
        with contextlib.suppress(kubernetes.client.ApiException):
            discovery.delete_collection_namespaced_endpoint_slice(namespace)

    def warnings(self, namespace: str, name: str, uid: str | None = None) -> list[str]:
        """Warning Events about an object (only its current incarnation when `uid` is given)."""
        selector = f"involvedObject.name={name},type=Warning" + (f",involvedObject.uid={uid}" if uid else "")
        events = self.core.list_namespaced_event(namespace, field_selector=selector).items
        return [f"{e.reason}: {e.message}" for e in events]


# --- real processes -----------------------------------------------------------

class Process:
    """A child process with its output in a log file, stopped on exit."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: pathlib.Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int | None = None, timeout: float = 15) -> None:
        if self.alive():
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def http_json(url: str, timeout: float = 5.0) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode(), error.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


class Operator(Process):
    """`asab-operator run` against the local environment."""

    def __init__(self, env: Environment, log_dir: pathlib.Path, *args: str, name: str = "operator",
                 zookeeper: str | None = None, **settings: str) -> None:
        self.port = free_port()
        self.name = name
        argv = OPERATOR + ["run", "--zookeeper-servers", zookeeper or env.zookeeper, "--health-port", str(self.port),
                           "--health-host", "127.0.0.1", *args]
        environ = env.process_env(**settings)
        environ["KUBECONFIG"] = settings.get("KUBECONFIG", env.operator_kubeconfig)
        super().__init__(argv, environ, log_dir / f"{name}.log")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def readiness(self) -> tuple[int, dict | str] | None:
        try:
            return http_json(self.url("/readyz"), timeout=1)
        except OSError:
            return None

    def wait_ready(self, timeout: float = 60) -> None:
        def ready():
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.log()[-4000:]}")
            result = self.readiness()
            return result is not None and result[0] == 200
        try:
            eventually(ready, timeout, 0.1, f"{self.name} to be ready")
        except AssertionError as error:
            raise AssertionError(f"{error}\nreadiness: {self.readiness()}\nthe end of its log:\n"
                                 f"{self.log()[-3000:]}") from None

    def metric(self, name: str, labels: str = "") -> float:
        _, text = http_json(self.url("/metrics"))
        total = 0.0
        for line in str(text).splitlines():
            if line.startswith(name + ("{" + labels if labels else "")) or line.startswith(name + " "):
                if not line.startswith("#"):
                    total += float(line.rsplit(" ", 1)[1])
        return total


class AsabPeer(Process):
    """A real ASAB application on the same ZooKeeper and path, asked what it discovers."""

    def __init__(self, env: Environment, log_dir: pathlib.Path, path: str = "asab", name: str = "asab-peer",
                 zookeeper: str | None = None, listen: str | None = None, auth: bool = False,
                 **environ: str) -> None:
        """`listen` like ASAB's [web] listen (default 127.0.0.1 <port>, which is not advertised
        usably); `environ` such as SERVICE_ID, INSTANCE_ID, ASAB_HOSTNAME."""
        self.port = free_port()
        argv = PEER + ["--zookeeper", zookeeper or env.zookeeper, "--port", str(self.port), "--path", path]
        if listen:
            argv += ["--listen", listen.replace("{port}", str(self.port))]
        if auth:
            argv.append("--auth")
        super().__init__(argv, env.process_env(**environ), log_dir / f"{name}.log")
        eventually(lambda: self._up(), 60, 0.2, "the ASAB peer to serve HTTP")

    def _up(self) -> bool:
        if not self.alive():
            raise AssertionError(f"ASAB peer exited:\n{self.log()[-4000:]}")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        return False

    def locate(self, **ids: str) -> list[str]:
        query = "&".join(f"{k}={v}" for k, v in ids.items())
        status, body = http_json(f"http://127.0.0.1:{self.port}/peer/locate?{query}", timeout=30)
        assert status == 200, body
        return body["urls"]

    def fetch(self, url: str, auth: str | None = None) -> dict:
        query = f"url={url}" + (f"&auth={auth}" if auth else "")
        _, body = http_json(f"http://127.0.0.1:{self.port}/peer/fetch?{query}", timeout=30)
        return body


class LoopbackServer:
    """A small HTTP server on a loopback address, standing in for the process in a Pod."""

    def __init__(self, ip: str, port: int, text: str) -> None:
        body = text.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((ip, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LoopbackAddresses:
    """Distinct loopback addresses (127.0.0.0/8 is all local on Linux) to stand for Pod IPs.
    Each run takes its own random 127.X.0.0/16, so that two checkouts testing at once
    never bind the same address and port."""

    def __init__(self, start: int = 2) -> None:
        self._next = start
        self._block = random.randint(10, 250)

    def take(self) -> str:
        n = self._next
        self._next += 1
        return f"127.{self._block}.{n // 250}.{n % 250 + 2}"


def run_children(zk: KazooClient, path: str = "/asab/run") -> dict[str, dict]:
    """Every node under /<path>/run, with its JSON (or the raw bytes if it is not JSON)."""
    result = {}
    if not zk.exists(path):
        return result
    for name in zk.get_children(path):
        with contextlib.suppress(Exception):
            data, _ = zk.get(f"{path}/{name}")
            try:
                result[name] = json.loads(data)
            except ValueError:
                result[name] = {"_raw": data}
    return result


def records_of(zk: KazooClient, namespace: str, path: str = "/asab/run") -> dict[str, dict]:
    """Our records for objects in one namespace, by object name."""
    found = {}
    for record in run_children(zk, path).values():
        marker = record.get("asab_operator") if isinstance(record, dict) else None
        if marker and marker.get("namespace") == namespace:
            found[marker["name"]] = record
    return found


def zxid(env: Environment) -> int:
    """ZooKeeper's last transaction id: unchanged means nothing at all was written."""
    host, port = env.zookeeper.split(":")
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.sendall(b"srvr")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    for line in data.decode().splitlines():
        if line.startswith("Zxid:"):
            return int(line.split(":")[1].strip(), 16)
    raise AssertionError(f"no Zxid in {data!r}")
