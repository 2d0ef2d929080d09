"""Operator configuration: every setting is a flag with an environment variable behind it."""
from __future__ import annotations

import argparse
import socket
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Config:
    zookeeper_servers: str
    zookeeper_path: str = "asab"
    cluster_id: str | None = None
    namespaces: tuple[str, ...] = ()
    health_port: int = 9180
    health_host: str = "0.0.0.0"
    cluster_domain: str = "cluster.local"
    reconcile_period: float = 60.0
    session_timeout: float = 10.0
    log_format: str = "text"
    log_level: str = "INFO"
    key_keeper: bool = True
    key_namespace: str = "default"
    key_configmap: str = "asab-internal-auth-jwks"
    key_backup_secret: str | None = None
    key_source_of_truth: str = "zookeeper"
    key_repair: bool = False
    key_rotation_period: float = 0
    projection_grace_period: float = 60.0
    leader_election: bool = True
    instance_name: str = ""

    @property
    def run_path(self) -> str:
        return "/" + self.zookeeper_path.strip("/") + "/run"


SETTINGS = [
    # (flag, env, default, help)
    ("--zookeeper-servers", "ASAB_OPERATOR_ZOOKEEPER_SERVERS", None,
     "ZooKeeper connection string, as ASAB's [zookeeper] servers: host:port[,host:port...][/chroot]. Required."),
    ("--zookeeper-path", "ASAB_OPERATOR_ZOOKEEPER_PATH", "asab",
     "Base path, as ASAB's [zookeeper] path; advertisements go to /<path>/run. Default: asab."),
    ("--cluster-id", "ASAB_OPERATOR_CLUSTER_ID", None,
     "This cluster's identity, written into every record's ownership marker; the operator only "
     "changes nodes that carry it. Default: the UID of the kube-system namespace."),
    ("--namespace", "ASAB_OPERATOR_NAMESPACES", None,
     "Watch only this namespace; repeat the flag for several (comma-separated in the variable). "
     "Default: all namespaces."),
    ("--health-port", "ASAB_OPERATOR_HEALTH_PORT", "9180",
     "Port of the HTTP server for /healthz (liveness), /readyz (readiness) and /metrics; 0 disables it. "
     "Default: 9180."),
    ("--health-host", "ASAB_OPERATOR_HEALTH_HOST", "0.0.0.0", "Address the HTTP server binds to. Default: 0.0.0.0."),
    ("--cluster-domain", "ASAB_OPERATOR_CLUSTER_DOMAIN", "cluster.local",
     "The cluster's DNS domain, for Services advertised in `discovery.asab/mode: service` "
     "(<name>.<namespace>.svc.<domain>). Default: cluster.local."),
    ("--reconcile-period", "ASAB_OPERATOR_RECONCILE_PERIOD", "60",
     "Seconds between full reconciles of /<path>/run against the desired state. Default: 60."),
    ("--session-timeout", "ASAB_OPERATOR_SESSION_TIMEOUT", "10",
     "ZooKeeper session timeout in seconds; our ephemeral nodes outlive a crash by this long. Keep it within "
     "the server's minSessionTimeout..maxSessionTimeout (by default 2 to 20 ticks: 4-40 s): the server "
     "would change it silently, and leader fencing counts on it. Default: 10."),
    ("--key-keeper", "ASAB_OPERATOR_KEY_KEEPER", "on",
     "Keep ASAB's shared internal auth key (/asab/auth/internal_auth_private.key): on or off. Default: on."),
    ("--key-namespace", "ASAB_OPERATOR_KEY_NAMESPACE", "default",
     "Namespace of the public key ConfigMap and the backup Secret (normally the operator's own). Default: default."),
    ("--key-configmap", "ASAB_OPERATOR_KEY_CONFIGMAP", "asab-internal-auth-jwks",
     "ConfigMap that receives the public JWK set (jwks.json); annotate it with discovery.asab/rotate-key=<any new "
     "value> to rotate the key. Default: asab-internal-auth-jwks."),
    ("--key-backup-secret", "ASAB_OPERATOR_KEY_BACKUP_SECRET", "",
     "Also keep the private key in this Secret, and restore it from there when ZooKeeper loses it. Default: none."),
    ("--key-source-of-truth", "ASAB_OPERATOR_KEY_SOURCE_OF_TRUTH", "zookeeper",
     "When the backup Secret and ZooKeeper disagree, which one wins: zookeeper or secret. Default: zookeeper."),
    ("--key-repair", "ASAB_OPERATOR_KEY_REPAIR", "off",
     "Rewrite an invalid key node with a new (or the backed-up) key: on or off. Default: off (report only)."),
    ("--key-rotation-period", "ASAB_OPERATOR_KEY_ROTATION_PERIOD", "0",
     "Rotate the key every this many seconds; 0 never. Each rotation makes ASAB services disagree for up to "
     "300 s. Default: 0."),
    ("--projection-grace-period", "ASAB_OPERATOR_PROJECTION_GRACE_PERIOD", "60",
     "Seconds a projected Service (or EndpointSlice) whose ASAB instances are gone is kept before it is "
     "deleted; its EndpointSlices are emptied at once. Default: 60."),
    ("--leader-election", "ASAB_OPERATOR_LEADER_ELECTION", "on",
     "Run as one of several replicas: only the leader, elected in ZooKeeper, writes; the others keep warm "
     "caches and take over when its session ends. on or off. Default: on."),
    ("--instance-name", "ASAB_OPERATOR_INSTANCE_NAME", "",
     "This replica's name in the election and the logs (set it to the Pod's name). Default: the host name."),
    ("--log-format", "ASAB_OPERATOR_LOG_FORMAT", "text", "Log format: text or json. Default: text."),
    ("--log-level", "ASAB_OPERATOR_LOG_LEVEL", "INFO", "Log level: DEBUG, INFO, WARNING or ERROR. Default: INFO."),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, env, default, text in SETTINGS:
        kwargs: dict = {"help": f"{text} [env: {env}]"}
        if flag == "--namespace":
            kwargs.update(action="append", dest="namespaces", metavar="NAMESPACE")
        parser.add_argument(flag, **kwargs)


def zookeeper_problem(servers: str) -> str | None:
    """Why a connection string is not `host:port[,host:port...][/chroot]`, or None."""
    hosts = servers.split("/", 1)[0]
    for entry in hosts.split(","):
        host, _, port = entry.strip().rpartition(":")
        if not host:
            return f"{entry!r} is not host:port"
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            return f"{entry!r} has no valid port"
    return None


def from_arguments(args: argparse.Namespace, environ=os.environ) -> Config:
    """Flags win over environment variables, which win over defaults. Every bad value
    stops the start with a message that names the flag and its variable."""
    def pick(flag: str) -> str | None:
        _, env, default, _ = next(s for s in SETTINGS if s[0] == flag)
        value = getattr(args, flag[2:].replace("-", "_"), None)
        return value if value is not None else environ.get(env, default)

    def fail(flag: str, why: str):
        env = next(s[1] for s in SETTINGS if s[0] == flag)
        raise SystemExit(f"error: {flag} ({env}): {why}")

    def number(flag: str, kind, low: float, high: float):
        raw = pick(flag)
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            fail(flag, f"{raw!r} is not a number")
        if not low <= value <= high:
            fail(flag, f"{raw} is not between {low:g} and {high:g}")
        return value

    def choice(flag: str, choices: tuple[str, ...], transform=str) -> str:
        value = transform(pick(flag))
        if value not in choices:
            fail(flag, f"{value!r} is not one of {', '.join(choices)}")
        return value

    servers = pick("--zookeeper-servers")
    if not servers:
        fail("--zookeeper-servers", "is required")
    if (why := zookeeper_problem(servers)):
        fail("--zookeeper-servers", why)
    namespaces = args.namespaces or [n for n in environ.get("ASAB_OPERATOR_NAMESPACES", "").split(",") if n]
    return Config(
        zookeeper_servers=servers,
        zookeeper_path=pick("--zookeeper-path"),
        cluster_id=pick("--cluster-id") or None,
        namespaces=tuple(n.strip() for n in namespaces),
        health_port=number("--health-port", int, 0, 65535),
        health_host=pick("--health-host"),
        cluster_domain=pick("--cluster-domain").strip("."),
        reconcile_period=number("--reconcile-period", float, 1, 86400),
        session_timeout=number("--session-timeout", float, 1, 600),
        log_format=choice("--log-format", ("text", "json")),
        log_level=choice("--log-level", ("DEBUG", "INFO", "WARNING", "ERROR"), str.upper),
        key_keeper=choice("--key-keeper", ("on", "off"), str.lower) == "on",
        key_namespace=pick("--key-namespace"),
        key_configmap=pick("--key-configmap"),
        key_backup_secret=pick("--key-backup-secret") or None,
        key_source_of_truth=choice("--key-source-of-truth", ("zookeeper", "secret"), str.lower),
        key_repair=choice("--key-repair", ("on", "off"), str.lower) == "on",
        key_rotation_period=number("--key-rotation-period", float, 0, 10 * 365 * 86400),
        leader_election=choice("--leader-election", ("on", "off"), str.lower) == "on",
        instance_name=pick("--instance-name") or socket.gethostname(),
        projection_grace_period=number("--projection-grace-period", float, 0, 7 * 86400),
    )
