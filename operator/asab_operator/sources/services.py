"""Annotated Services -> advertisement records. Pure.

Two modes (annotation `discovery.asab/mode`):
- `endpoints` (default): one record per ready endpoint of the Service, read from its
  EndpointSlices, host = the endpoint address, port = the endpoint port that the
  annotated Service port maps to.
- `service`: one record whose host is the Service's cluster DNS name and whose port
  is the Service port.

Only small facts are kept per Service and per EndpointSlice, never whole objects.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Iterable, Mapping

from .. import annotations as ann
from ..desired import Advert
from ..record import Identity, Owner, asab_time, build_record, encode, node_name
from .pods import Outcome

APPCLASS = "KubernetesService"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclasses.dataclass(frozen=True)
class ServicePort:
    name: str
    port: int


@dataclasses.dataclass(frozen=True)
class ServiceFacts:
    namespace: str
    name: str
    uid: str
    created: str
    spec: ann.AdvertiseSpec | None
    problems: tuple[ann.Problem, ...]
    ports: tuple[ServicePort, ...]
    publish_not_ready: bool


@dataclasses.dataclass(frozen=True)
class Endpoint:
    address: str
    ready: bool
    terminating: bool
    pod: str | None          # targetRef name, when it points at a Pod
    node: str | None


@dataclasses.dataclass(frozen=True)
class SliceFacts:
    address_type: str
    ports: tuple[tuple[str, int], ...]        # (name, port)
    endpoints: tuple[Endpoint, ...]


def service_facts(service: Mapping) -> ServiceFacts | None:
    """The little a Service contributes to remember; None when it is not annotated."""
    metadata = service.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    if not ann.is_annotated(annotations):
        return None
    spec, problems = ann.parse_annotations(annotations, "Service")
    body = service.get("spec") or {}
    return ServiceFacts(
        namespace=metadata.get("namespace", ""), name=metadata["name"], uid=metadata.get("uid", ""),
        created=metadata.get("creationTimestamp") or "", spec=spec, problems=problems,
        ports=tuple(ServicePort(p.get("name") or "", p["port"]) for p in body.get("ports") or ()),
        publish_not_ready=bool(body.get("publishNotReadyAddresses")),
    )


def slice_facts(endpoint_slice: Mapping) -> SliceFacts:
    endpoints = []
    for endpoint in endpoint_slice.get("endpoints") or ():
        addresses = endpoint.get("addresses") or ()
        if not addresses:
            continue
        conditions = endpoint.get("conditions") or {}
        target = endpoint.get("targetRef") or {}
        endpoints.append(Endpoint(
            address=addresses[0],
            ready=conditions.get("ready") is not False,          # unset means ready (API docs)
            terminating=conditions.get("terminating") is True,
            pod=target.get("name") if target.get("kind") == "Pod" else None,
            node=endpoint.get("nodeName"),
        ))
    return SliceFacts(
        address_type=endpoint_slice.get("addressType", "IPv4"),
        ports=tuple((p.get("name") or "", p.get("port")) for p in endpoint_slice.get("ports") or ()
                    if p.get("port") is not None),
        endpoints=tuple(endpoints),
    )


def chosen_port(facts: ServiceFacts) -> tuple[ServicePort | None, ann.Problem | None]:
    """The Service port the annotation names, or the default (http, web, the only one)."""
    wanted = facts.spec.port if facts.spec else None
    if wanted is not None:
        for port in facts.ports:
            if port.name == wanted or port.port == wanted:
                return port, None
        listed = ", ".join(f"{p.name or '(unnamed)'}={p.port}" for p in facts.ports) or "none"
        return None, ann.Problem(ann.PORT, f"the Service has no port {wanted!r} (ports: {listed})")
    for name in ("http", "web"):
        for port in facts.ports:
            if port.name == name:
                return port, None
    if len(facts.ports) == 1:
        return facts.ports[0], None
    return None, ann.Problem(ann.PORT, f"not set, and the Service has {len(facts.ports)} ports, none named "
                                       "'http' or 'web': set it to a port name or number")


def stable_instance(service: str, address: str) -> str:
    """An instance id for an endpoint without a Pod behind it: the Service name and the address,
    shortened with a hash to one DNS label when they are too long."""
    name = f"{service}-{re.sub(r'[^a-z0-9]+', '-', address.lower()).strip('-')}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-')}-{digest}"


def service_outcome(facts: ServiceFacts, slices: Iterable[SliceFacts], identity: Identity,
                    cluster_domain: str) -> Outcome:
    if facts.spec is None:
        return Outcome(problems=facts.problems, annotated=True)
    port, problem = chosen_port(facts)
    if problem:
        return Outcome(problems=(problem,), annotated=True)
    spec = facts.spec
    owner = Owner(kind="Service", namespace=facts.namespace, name=facts.name, uid=facts.uid)

    def advert(suffix: str, host: str, number: int, instance_id: str, node_id: str | None) -> Advert:
        record = build_record(identity=identity, owner=owner, host=host, port=number, appclass=APPCLASS,
                              service_id=spec.service_id, instance_id=instance_id,
                              node_id=spec.node_id or node_id, launch_time=asab_time(facts.created),
                              discovery=spec.discovery)
        node = node_name(identity, "Service", facts.namespace, facts.name) + suffix
        return Advert(node=node, data=encode(record), instance_id=instance_id, owner=owner,
                      rank=(facts.created, "Service", facts.namespace, facts.name))

    if spec.mode == "service":
        host = f"{facts.name}.{facts.namespace}.svc.{cluster_domain}"
        return Outcome(adverts=(advert("", host, port.port, spec.instance_id or facts.name, None),),
                       annotated=True)

    adverts = {}
    for facts_slice in slices:
        # IPv6 literals break ASAB's URLs (http://::1:80); FQDN endpoints are fine.
        if facts_slice.address_type not in ("IPv4", "FQDN"):
            continue
        # A slice names its ports like the Service; a single unnamed Service port is "".
        numbers = [n for name, n in facts_slice.ports if name == port.name]
        if not numbers:
            continue
        for endpoint in facts_slice.endpoints:
            if endpoint.terminating or not (endpoint.ready or facts.publish_not_ready):
                continue
            instance_id = endpoint.pod or stable_instance(facts.name, endpoint.address)
            if ann.id_problem(instance_id):
                instance_id = stable_instance(facts.name, endpoint.address)
            adverts[instance_id] = advert(f"~{instance_id}", endpoint.address, numbers[0], instance_id,
                                          endpoint.node)
    return Outcome(adverts=tuple(adverts[k] for k in sorted(adverts)), annotated=True)
