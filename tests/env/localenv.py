"""The project's local environment: a real etcd, kube-apiserver and ZooKeeper on loopback.

    python tests/env/localenv.py up      # start (or confirm running); idempotent
    python tests/env/localenv.py down    # stop everything and drop its data; idempotent
    python tests/env/localenv.py status  # what runs where

`up` writes `<state>/kubeconfig` and `<state>/zookeeper` (host:port), where the
tests, the demo and the benchmarks find them. The state folder is `.localenv/`
in the checkout (git-ignored) unless ASAB_OPERATOR_LOCALENV says otherwise.

The API server runs the way controller-runtime's envtest runs it: loopback only,
generated certificates, a static admin token in `system:masters`, service-account
keys, and no scheduler, kubelet or controller-manager (so nothing garbage-collects
and no EndpointSlice controller runs: tests do that work by hand).
"""
from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
STATE = pathlib.Path(os.environ.get("ASAB_OPERATOR_LOCALENV", REPO / ".localenv"))
BUILD_SCRIPT = REPO / "tests" / "env" / "build-control-plane.sh"
ZOOKEEPER_CLASSPATH = os.environ.get(
    "ZOOKEEPER_CLASSPATH", "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar")


def log(message: str) -> None:
    print(f"[localenv] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- processes -----------------------------------------------------------

def pid_alive(name: str) -> bool:
    pid_file = STATE / f"{name}.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text()), 0)
        return True
    except (ProcessLookupError, ValueError):
        return False


def spawn(name: str, argv: list[str]) -> None:
    """Start a daemon in its own session so that it outlives this command."""
    logfile = open(STATE / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, stdout=logfile, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    (STATE / f"{name}.pid").write_text(str(proc.pid))


def reap(pid: int) -> None:
    """Collect the exit status if the daemon is our own child, so no zombie lingers."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(name: str) -> None:
    pid_file = STATE / f"{name}.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            reap(pid)
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, ValueError):
        pass
    pid_file.unlink(missing_ok=True)


def wait_until(what: str, check, timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not pid_alive(name):
            tail = (STATE / f"{name}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{name} exited while starting; the end of its log:\n{tail}")
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}; see {STATE / (name + '.log')}")


# --- certificates --------------------------------------------------------

def write_certificates() -> None:
    """A CA, a serving certificate for 127.0.0.1 and service-account keys."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    certs = STATE / "certs"
    if (certs / "serving.crt").exists():
        return
    certs.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    year = datetime.timedelta(days=365)

    def pem_key(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asab-operator-localenv-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + 10 * year)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    serving_key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default",
                                       "kubernetes.default.svc")]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    serving = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
               .issuer_name(ca_name).public_key(serving_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + year)
               .add_extension(x509.SubjectAlternativeName(names), critical=False)
               .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=False)
               .sign(ca_key, hashes.SHA256()))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (certs / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (certs / "serving.crt").write_bytes(serving.public_bytes(serialization.Encoding.PEM))
    (certs / "serving.key").write_bytes(pem_key(serving_key))
    (certs / "sa.key").write_bytes(pem_key(sa_key))
    (certs / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    # Two identities, so that the audit log can tell the operator's writes from the tests'.
    (certs / "tokens.csv").write_text(
        f'{secrets.token_hex(24)},admin,admin,"system:masters"\n'
        f'{secrets.token_hex(24)},asab-operator,asab-operator,"system:masters"\n')


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
              {"level": "None"}],
}


def token_of(user: str) -> str:
    for line in (STATE / "certs" / "tokens.csv").read_text().splitlines():
        token, name = line.split(",")[:2]
        if name == user:
            return token
    raise KeyError(user)


def apiserver_port() -> int:
    """The running API server's port, from the admin kubeconfig."""
    server = json.loads((STATE / "kubeconfig").read_text())["clusters"][0]["cluster"]["server"]
    return int(server.rsplit(":", 1)[1])


def write_kubeconfigs(port: int) -> None:
    """`kubeconfig` (admin, for tests and people) and `kubeconfig-operator` (the operator)."""
    write_kubeconfig(STATE / "kubeconfig", port, "admin")
    write_kubeconfig(STATE / "kubeconfig-operator", port, "asab-operator")


def write_kubeconfig(path: pathlib.Path, port: int, user: str, token: str | None = None) -> None:
    """A kubeconfig for `user`: a static token of tokens.csv, or the `token` given."""
    token = token or token_of(user)
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "localenv",
        "clusters": [{"name": "localenv", "cluster": {
            "server": f"https://127.0.0.1:{port}",
            "certificate-authority": str(STATE / "certs" / "ca.crt")}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "localenv", "context": {"cluster": "localenv", "user": user,
                                                      "namespace": "default"}}],
    }
    path.write_text(json.dumps(config, indent=2))


# --- components ----------------------------------------------------------

def build_binaries() -> dict[str, str]:
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE,
                         text=True).stdout.split()
    return dict(zip(("etcd", "kube-apiserver", "kubectl", "helm"), out))


def zookeeper_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"ruok")
            return sock.recv(16) == b"imok"
    except OSError:
        return False


def start_zookeeper() -> None:
    address = STATE / "zookeeper"
    if pid_alive("zookeeper") and address.exists() and zookeeper_ok(int(address.read_text().split(":")[1])):
        return
    stop("zookeeper")
    if not os.path.exists(ZOOKEEPER_CLASSPATH.split(":")[0]):
        raise SystemExit("ZooKeeper is not installed: run `make setup` (Debian package zookeeper)")
    port = free_port()
    data = STATE / "zookeeper-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    cfg = STATE / "zoo.cfg"
    cfg.write_text("\n".join([
        "tickTime=500",           # short ticks: kazoo's session timeouts stay as asked
        "minSessionTimeout=1000",  # tests force expiry with short sessions
        "maxSessionTimeout=60000",
        f"dataDir={data}",
        f"clientPort={port}",
        "clientPortAddress=127.0.0.1",
        "admin.enableServer=false",
        "4lw.commands.whitelist=ruok,stat,mntr,cons",
        "maxClientCnxns=0",
        "", ]))
    log(f"starting ZooKeeper on 127.0.0.1:{port}")
    address.write_text(f"127.0.0.1:{port}")
    resume_zookeeper()


def apiserver_ready(port: int) -> bool:
    token = token_of("admin")
    context = ssl.create_default_context(cafile=str(STATE / "certs" / "ca.crt"))
    request = urllib.request.Request(f"https://127.0.0.1:{port}/readyz",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_control_plane(binaries: dict[str, str]) -> None:
    ports_file = STATE / "apiserver-port"
    if (pid_alive("etcd") and pid_alive("kube-apiserver") and ports_file.exists()
            and apiserver_ready(int(ports_file.read_text()))):
        return
    stop("kube-apiserver")
    stop("etcd")
    write_certificates()
    etcd_port, peer_port = free_port(), free_port()
    etcd_data = STATE / "etcd-data"
    shutil.rmtree(etcd_data, ignore_errors=True)
    log(f"starting etcd on 127.0.0.1:{etcd_port}")
    spawn("etcd", [binaries["etcd"], "--data-dir", str(etcd_data),
                   "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                   "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                   "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                   "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                   "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
                   "--unsafe-no-fsync", "--log-level", "warn"])
    start_apiserver(binaries, etcd_port)


def start_apiserver(binaries: dict[str, str], etcd_port: int | None = None) -> None:
    """Start (or restart, keeping etcd and the port) the API server."""
    certs = STATE / "certs"
    ports_file = STATE / "apiserver-port"
    if etcd_port is None:
        etcd_port = int((STATE / "etcd-port").read_text())
        port = int(ports_file.read_text())
    else:
        port = free_port()
    (STATE / "etcd-port").write_text(str(etcd_port))
    (STATE / "audit-policy.json").write_text(json.dumps(AUDIT_POLICY))
    log(f"starting kube-apiserver on https://127.0.0.1:{port}")
    spawn("kube-apiserver", [
        binaries["kube-apiserver"],
        "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
        "--secure-port", str(port),
        "--tls-cert-file", str(certs / "serving.crt"),
        "--tls-private-key-file", str(certs / "serving.key"),
        "--client-ca-file", str(certs / "ca.crt"),
        "--token-auth-file", str(certs / "tokens.csv"),
        "--service-account-key-file", str(certs / "sa.pub"),
        "--service-account-signing-key-file", str(certs / "sa.key"),
        "--service-account-issuer", "https://kubernetes.default.svc",
        "--service-cluster-ip-range", "10.0.0.0/24",
        "--authorization-mode", "RBAC",
        "--allow-privileged=true",
        "--disable-admission-plugins", "ServiceAccount",
        "--cert-dir", str(certs),
        "--audit-policy-file", str(STATE / "audit-policy.json"),
        "--audit-log-path", str(STATE / "audit.log"),
        "--audit-log-format", "json",
        "--audit-log-mode", "blocking",
        "--v", "1",
    ])
    ports_file.write_text(str(port))
    write_kubeconfigs(port)
    wait_until("kube-apiserver", lambda: apiserver_ready(port), 120, "kube-apiserver")


def up() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    binaries = build_binaries()
    (STATE / "binaries.json").write_text(json.dumps(binaries))
    start_zookeeper()
    start_control_plane(binaries)
    status()


def stop_zookeeper() -> None:
    """Stop ZooKeeper but keep its data, port and config (a fault for tests)."""
    stop("zookeeper")


def resume_zookeeper() -> None:
    """Start ZooKeeper again after `stop_zookeeper`, with the same data and port."""
    port = int((STATE / "zookeeper").read_text().split(":")[1])
    spawn("zookeeper", ["java", "-Xmx512m", "-cp", ZOOKEEPER_CLASSPATH,
                        "org.apache.zookeeper.server.ZooKeeperServerMain", str(STATE / "zoo.cfg")])
    wait_until("ZooKeeper", lambda: zookeeper_ok(port), 60, "zookeeper")


def restart_apiserver() -> None:
    """Stop and start the API server on the same port and etcd (a fault for tests)."""
    stop("kube-apiserver")
    start_apiserver(json.loads((STATE / "binaries.json").read_text()))


def down() -> None:
    for name in ("kube-apiserver", "etcd", "zookeeper"):
        stop(name)
    for item in ("etcd-data", "zookeeper-data", "kubeconfig", "kubeconfig-operator", "zookeeper",
                 "apiserver-port", "audit.log", "certs"):
        path = STATE / item
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    log("stopped")


def status() -> None:
    for name in ("zookeeper", "etcd", "kube-apiserver"):
        print(f"{name:15} {'running' if pid_alive(name) else 'stopped'}")
    if (STATE / "kubeconfig").exists():
        print(f"KUBECONFIG={STATE / 'kubeconfig'}")
    if (STATE / "zookeeper").exists():
        print(f"ZOOKEEPER={(STATE / 'zookeeper').read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "restart-apiserver"])
    command = parser.parse_args().command
    {"up": up, "down": down, "status": status, "restart-apiserver": restart_apiserver}[command]()


if __name__ == "__main__":
    main()
