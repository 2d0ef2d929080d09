"""Operator configuration: every setting is a flag with an environment variable behind it."""
from __future__ import annotations

import argparse
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
     "Watch only these namespaces (repeat the flag, or comma-separate in the variable). "
     "Default: all namespaces."),
    ("--health-port", "ASAB_OPERATOR_HEALTH_PORT", "9180",
     "Port of the HTTP server for /healthz (liveness), /readyz (readiness) and /metrics. 0 disables it."),
    ("--health-host", "ASAB_OPERATOR_HEALTH_HOST", "0.0.0.0", "Address the HTTP server binds to."),
    ("--cluster-domain", "ASAB_OPERATOR_CLUSTER_DOMAIN", "cluster.local",
     "The cluster's DNS domain, for Services advertised in `discovery.asab/mode: service` "
     "(<name>.<namespace>.svc.<domain>). Default: cluster.local."),
    ("--reconcile-period", "ASAB_OPERATOR_RECONCILE_PERIOD", "60",
     "Seconds between full reconciles of /<path>/run against the desired state. Default: 60."),
    ("--session-timeout", "ASAB_OPERATOR_SESSION_TIMEOUT", "10",
     "ZooKeeper session timeout in seconds; our ephemeral nodes outlive a crash by this long. Default: 10."),
    ("--log-format", "ASAB_OPERATOR_LOG_FORMAT", "text", "Log format: text or json."),
    ("--log-level", "ASAB_OPERATOR_LOG_LEVEL", "INFO", "Log level: DEBUG, INFO, WARNING, ERROR."),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, env, default, text in SETTINGS:
        kwargs: dict = {"help": f"{text} [env: {env}]"}
        if flag == "--namespace":
            kwargs.update(action="append", dest="namespaces", metavar="NAMESPACE")
        elif flag == "--log-format":
            kwargs.update(choices=["text", "json"])
        parser.add_argument(flag, **kwargs)


def from_arguments(args: argparse.Namespace, environ=os.environ) -> Config:
    """Flags win over environment variables, which win over defaults."""
    def pick(flag: str) -> str | None:
        _, env, default, _ = next(s for s in SETTINGS if s[0] == flag)
        value = getattr(args, flag[2:].replace("-", "_"), None)
        return value if value is not None else environ.get(env, default)

    servers = pick("--zookeeper-servers")
    if not servers:
        raise SystemExit("error: --zookeeper-servers (or ASAB_OPERATOR_ZOOKEEPER_SERVERS) is required")
    namespaces = args.namespaces or [n for n in environ.get("ASAB_OPERATOR_NAMESPACES", "").split(",") if n]
    try:
        return Config(
            zookeeper_servers=servers,
            zookeeper_path=pick("--zookeeper-path"),
            cluster_id=pick("--cluster-id") or None,
            namespaces=tuple(n.strip() for n in namespaces),
            health_port=int(pick("--health-port")),
            health_host=pick("--health-host"),
            cluster_domain=pick("--cluster-domain").strip("."),
            reconcile_period=float(pick("--reconcile-period")),
            session_timeout=float(pick("--session-timeout")),
            log_format=pick("--log-format"),
            log_level=pick("--log-level").upper(),
        )
    except ValueError as error:
        raise SystemExit(f"error: {error}")
