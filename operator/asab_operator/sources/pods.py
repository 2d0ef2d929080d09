"""Pods -> advertisement records. Pure: a Pod body in, records or problems out."""
from __future__ import annotations

import dataclasses
from typing import Mapping

from .. import annotations as ann
from ..desired import Advert
from ..record import Identity, Owner, asab_time, build_record, encode, node_name

APPCLASS = "KubernetesPod"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one object contributes: its records, or the problems that stop it."""
    adverts: tuple[Advert, ...] = ()
    problems: tuple[ann.Problem, ...] = ()
    annotated: bool = False


def is_ready(pod: Mapping) -> bool:
    """Ready, with an IP, and not on its way out."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or ())


def ipv4_of(pod: Mapping) -> str | None:
    """The Pod's IPv4 address: an IPv6 literal as host makes ASAB's URLs invalid (http://::1:80)."""
    status = pod.get("status") or {}
    for ip in [status.get("podIP")] + [entry.get("ip") for entry in status.get("podIPs") or ()]:
        if ip and ":" not in ip:
            return ip
    return None


def container_ports(pod: Mapping) -> list[dict]:
    spec = pod.get("spec") or {}
    return [port for container in spec.get("containers") or ()
            for port in container.get("ports") or ()]


def resolve_port(pod: Mapping, wanted: int | str | None,
                 field: str = ann.PORT) -> tuple[int | None, ann.Problem | None]:
    """The port to advertise: a number as given, a port name looked up, or the default."""
    if isinstance(wanted, int):
        return wanted, None
    ports = container_ports(pod)
    if isinstance(wanted, str):
        for port in ports:
            if port.get("name") == wanted:
                return port["containerPort"], None
        names = sorted(p["name"] for p in ports if p.get("name"))
        return None, ann.Problem(field, f"no container port is named {wanted!r} "
                                        f"(named ports: {', '.join(names) or 'none'})")
    for name in ("http", "web"):
        for port in ports:
            if port.get("name") == name:
                return port["containerPort"], None
    if len(ports) == 1:
        return ports[0]["containerPort"], None
    return None, ann.Problem(field, f"not set, and the Pod declares {len(ports)} container ports, "
                                    "none named 'http' or 'web': set it to a port number or name")


def pod_outcome(pod: Mapping, identity: Identity) -> Outcome:
    """The record an annotated Pod should have in ZooKeeper (none unless annotated and Ready)."""
    metadata = pod.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    if not ann.is_annotated(annotations):
        return Outcome()
    spec, problems = ann.parse_annotations(annotations)
    if spec is None:
        return Outcome(problems=problems, annotated=True)
    namespace, name = metadata.get("namespace", ""), metadata["name"]
    owner = Owner(kind="Pod", namespace=namespace, name=name, uid=metadata.get("uid", ""))
    rank = (metadata.get("creationTimestamp") or "", "Pod", namespace, name)
    return record_for_pod(pod, spec, identity, owner, node_name(identity, "Pod", namespace, name), rank,
                          APPCLASS, ann.PORT)


def record_for_pod(pod: Mapping, spec: ann.AdvertiseSpec, identity: Identity, owner: Owner, node: str,
                   rank: tuple, appclass: str, port_field: str) -> Outcome:
    """The record of one Pod under a validated spec (from its annotations or an Advertisement)."""
    port, problem = resolve_port(pod, spec.port, port_field)
    if problem:
        return Outcome(problems=(problem,), annotated=True)
    if not is_ready(pod):
        return Outcome(annotated=True)
    host = ipv4_of(pod)
    if host is None:
        return Outcome(problems=(ann.Problem("status.podIPs", "the Pod has no IPv4 address, and an IPv6 "
                                             "literal makes ASAB's URLs invalid (http://::1:80)"),), annotated=True)
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    instance_id = spec.instance_id or metadata["name"]
    record = build_record(
        identity=identity, owner=owner,
        host=host, port=port, appclass=appclass,
        service_id=spec.service_id,
        instance_id=instance_id,
        node_id=spec.node_id or (pod.get("spec") or {}).get("nodeName"),
        launch_time=asab_time(status.get("startTime") or metadata.get("creationTimestamp")),
        discovery=spec.discovery,
    )
    advert = Advert(node=node, data=encode(record), instance_id=instance_id, owner=owner, rank=rank)
    return Outcome(adverts=(advert,), annotated=True)
