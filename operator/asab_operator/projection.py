"""ZooKeeper -> Kubernetes: what headless Services and EndpointSlices the advertised
instances should become. Pure: instances, a projection's settings and resolved
addresses in; desired objects and what was skipped (and why) out.

One headless Service (no selector, clusterIP None) per projected id, and
EndpointSlices holding every instance's address, one slice per address type and
port, so that `<service>.<namespace>.svc` resolves to all instances and
`<hostname>.<service>.<namespace>.svc` to each (hostname: the instance id as a DNS
label).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import ipaddress
import re
from typing import Iterable, Mapping

from .sources.asab_records import Instance

MANAGED_BY = "asab-discovery-operator"
DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which ids a Projection projects: an id type, and all ids, a list, or glob patterns."""
    id_type: str = "service_id"
    ids: tuple[str, ...] = ()              # exact ids; empty and no patterns: all
    patterns: tuple[str, ...] = ()

    def wants(self, id_type: str, value: str) -> bool:
        if id_type != self.id_type:
            return False
        if not self.ids and not self.patterns:
            return True
        return value in self.ids or any(fnmatch.fnmatchcase(value, p) for p in self.patterns)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    address: str
    hostname: str
    instance: str          # the node under /run, for the status


@dataclasses.dataclass(frozen=True)
class Slice:
    address_type: str
    port: int
    endpoints: tuple[Endpoint, ...]


@dataclasses.dataclass(frozen=True)
class ProjectedService:
    name: str
    id_type: str
    id: str
    port: int                          # the Service's named port "web"
    slices: tuple[Slice, ...]


def service_name(template: str, value: str) -> str:
    """A DNS-1035 label for an id, deterministic. When the template with the id in it is a
    valid label, that is the name; otherwise it is lower-cased, every other character becomes
    '-', and a hash of the original id is appended so that `my_app` and `my-app` differ."""
    wanted = template.replace("{id}", value, 1)
    if DNS_LABEL.fullmatch(wanted) and len(wanted) <= 63:
        return wanted
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    cleaned = re.sub(r"[^a-z0-9]+", "-", wanted.lower()).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "x-" + cleaned
    return f"{cleaned[:63 - 9].rstrip('-')}-{digest}"


def hostname_of(instance_id: str) -> str:
    """An instance id as a DNS-1123 label, for the endpoint's own DNS name."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", instance_id.lower()).strip("-")
    if len(cleaned) > 63 or cleaned != instance_id:
        digest = hashlib.sha256(instance_id.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:54].strip('-')}-{digest}" if cleaned else digest
    return cleaned


def address_type(address: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
    except ValueError:
        return None


def unusable_address(address: str) -> str | None:
    """Why an EndpointSlice cannot hold this address (the API server rejects these), or None."""
    ip = ipaddress.ip_address(address)
    for flag, what in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast")):
        if getattr(ip, flag):
            return what
    return None


def project(instances: Iterable[Instance], selection: Selection, template: str, own_cluster: str | None,
            resolved: Mapping[str, tuple[str, ...]]) -> tuple[list[ProjectedService], list[str]]:
    """Desired Services and what was skipped and why.

    `resolved`: host name -> its addresses (empty: does not resolve); IP literals need none.
    Records with our own cluster's marker are never projected back (no loops)."""
    skipped: list[str] = []
    by_id: dict[str, list[Instance]] = {}
    for instance in instances:
        if own_cluster is not None and instance.cluster == own_cluster:
            continue
        for id_type, value in instance.ids:
            if selection.wants(id_type, value):
                by_id.setdefault(value, []).append(instance)

    names: dict[str, str] = {}
    projected = []
    for value in sorted(by_id):
        name = service_name(template, value)
        if name in names:
            skipped.append(f"{selection.id_type} {value!r}: its Service name {name!r} is taken by "
                           f"{names[name]!r}; not projected")
            continue
        names[name] = value
        groups: dict[tuple[str, int], list[Endpoint]] = {}
        for instance in sorted(by_id[value], key=lambda i: i.node):
            addresses = (instance.host,) if address_type(instance.host) else resolved.get(instance.host, ())
            if not addresses:
                skipped.append(f"{instance.node}: host {instance.host!r} does not resolve")
                continue
            hostname = hostname_of(instance.instance_id or instance.node)
            for address in addresses:
                if (why := unusable_address(address)):
                    skipped.append(f"{instance.node}: address {address} is {why}; an EndpointSlice cannot hold it")
                    continue
                kind = address_type(address)
                for port in instance.ports:
                    groups.setdefault((kind, port), []).append(Endpoint(address, hostname, instance.node))
        slices = tuple(Slice(kind, port, tuple(endpoints)) for (kind, port), endpoints in sorted(groups.items()))
        port = min(p for _, p in groups) if groups else min(min(i.ports) for i in by_id[value])
        projected.append(ProjectedService(name=name, id_type=selection.id_type, id=value, port=port,
                                          slices=slices))
    return projected, skipped
