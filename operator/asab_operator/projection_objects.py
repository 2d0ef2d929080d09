"""Projection, the Kubernetes side. Pure: a Projection resource's spec read and checked,
the Service and EndpointSlice bodies for what `projection.project` decided, whether an
object in the cluster already matches, and which writes bring the cluster there.

Ownership: everything written carries the label `app.kubernetes.io/managed-by:
asab-discovery-operator` and `discovery.asab/projection-uid: <the Projection's uid>`.
Only objects with both are ever changed or deleted.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Iterable, Mapping

from .projection import ProjectedService, Selection

GROUP_VERSION = "discovery.asab/v1alpha1"
MANAGED_BY = ("app.kubernetes.io/managed-by", "asab-discovery-operator")
PROJECTION_UID = "discovery.asab/projection-uid"
PROJECTION_NAMESPACE = "discovery.asab/projection-namespace"   # which operator's scope it is in
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_MANAGER = ("endpointslice.kubernetes.io/managed-by", "asab-discovery-operator.discovery.asab")
PROJECTION_ANNOTATION = "discovery.asab/projection"       # <namespace>/<name> of the Projection
HASH_ANNOTATION = "discovery.asab/projected-hash"
SLICE_CAPACITY = 100     # endpoints per slice, as the built-in controller does
RESERVED_PREFIXES = ("discovery.asab/", "kubernetes.io/", "k8s.io/", "endpointslice.kubernetes.io/",
                     "app.kubernetes.io/managed-by")
QUALIFIED_NAME = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                            r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")

Key = tuple[str, str, str]      # (kind, namespace, name)


@dataclasses.dataclass(frozen=True)
class ProjectionSpec:
    namespace: str
    name: str
    uid: str
    created: str                    # creationTimestamp: the older Projection wins a Service name
    selection: Selection
    target: str
    template: str
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def read_spec(body: Mapping) -> tuple[ProjectionSpec | None, list[str]]:
    """A Projection resource's settings, or None and what is wrong (each naming its field).
    The CRD's schema checks shapes; this checks what it cannot."""
    metadata, spec = body.get("metadata") or {}, body.get("spec") or {}
    problems = []
    template = spec.get("nameTemplate") or "{id}"
    if template.count("{id}") != 1:
        problems.append("spec.nameTemplate: must contain {id} exactly once")
    labels = dict(spec.get("labels") or {})
    annotations = dict(spec.get("annotations") or {})
    for field, entries, check_value in (("spec.labels", labels, True), ("spec.annotations", annotations, False)):
        for key, value in entries.items():
            if not QUALIFIED_NAME.fullmatch(key) or len(key) > 317:
                problems.append(f"{field}: {key!r} is not a valid key")
            elif key.startswith(RESERVED_PREFIXES):
                problems.append(f"{field}: {key!r} is reserved for the operator and Kubernetes")
            elif check_value and (not isinstance(value, str) or not LABEL_VALUE.fullmatch(value)):
                problems.append(f"{field}: the value of {key!r} is not a valid label value")
    if problems:
        return None, problems
    return ProjectionSpec(
        namespace=metadata.get("namespace", ""), name=metadata.get("name", ""), uid=metadata.get("uid", ""),
        created=metadata.get("creationTimestamp") or "",
        selection=Selection(id_type=spec.get("idType") or "service_id", ids=tuple(spec.get("ids") or ()),
                            patterns=tuple(spec.get("patterns") or ())),
        target=spec.get("targetNamespace") or metadata.get("namespace", ""),
        template=template, labels=tuple(sorted(labels.items())), annotations=tuple(sorted(annotations.items())),
    ), []


def slice_name(service: str, address_type: str, port: int, chunk: int) -> str:
    return f"{service}-{address_type.lower()}-{port}" + (f"-{chunk}" if chunk else "")


def render(spec: ProjectionSpec, service: ProjectedService) -> list[tuple[Key, dict]]:
    """The Service, then its EndpointSlices, as bodies to apply."""
    labels = {**dict(spec.labels), MANAGED_BY[0]: MANAGED_BY[1], PROJECTION_UID: spec.uid,
              PROJECTION_NAMESPACE: spec.namespace}
    owner = [{"apiVersion": GROUP_VERSION, "kind": "Projection", "name": spec.name, "uid": spec.uid,
              "controller": True, "blockOwnerDeletion": False}] if spec.target == spec.namespace else []
    annotations = {**dict(spec.annotations),
                   PROJECTION_ANNOTATION: f"{spec.namespace}/{spec.name}",
                   "discovery.asab/projected-id": f"{service.id_type}={service.id}"}
    objects = [(("Service", spec.target, service.name), {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": service.name, "namespace": spec.target, "labels": labels,
                     "annotations": annotations, "ownerReferences": owner},
        "spec": {"clusterIP": "None", "type": "ClusterIP",
                 "ports": [{"name": "web", "port": service.port, "targetPort": service.port, "protocol": "TCP"}]},
    })]
    for part in service.slices:
        endpoints = [{"addresses": [e.address], "hostname": e.hostname,
                      "conditions": {"ready": True, "serving": True, "terminating": False}}
                     for e in part.endpoints]
        for chunk in range(max(1, -(-len(endpoints) // SLICE_CAPACITY))):
            name = slice_name(service.name, part.address_type, part.port, chunk)
            objects.append((("EndpointSlice", spec.target, name),
                            slice_body(spec.target, name, service.name, labels, owner,
                                       f"{spec.namespace}/{spec.name}", part.address_type,
                                       part.port, endpoints[chunk * SLICE_CAPACITY:(chunk + 1) * SLICE_CAPACITY])))
    return [(key, with_hash(body)) for key, body in objects]


def slice_body(namespace: str, name: str, service: str, labels: Mapping[str, str], owner: list,
               projection: str, address_type: str, port: int, endpoints: list) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {**labels, SERVICE_NAME_LABEL: service, SLICE_MANAGER[0]: SLICE_MANAGER[1]},
                     "annotations": {PROJECTION_ANNOTATION: projection}, "ownerReferences": owner},
        "addressType": address_type,
        "ports": [{"name": "web", "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    }


def with_hash(body: dict) -> dict:
    """Stamp the body with a hash of itself: a change of anything we set (extra labels
    removed, too) shows as a different hash on the object."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body["metadata"]["annotations"] = {**body["metadata"]["annotations"], HASH_ANNOTATION: digest}
    return body


def emptied(actual: Mapping) -> dict:
    """An EndpointSlice of ours with no endpoints: its id has no instances left."""
    metadata = actual["metadata"]
    body = slice_body(metadata["namespace"], metadata["name"], metadata["labels"].get(SERVICE_NAME_LABEL, ""),
                      {k: v for k, v in metadata["labels"].items()
                       if k not in (SERVICE_NAME_LABEL, SLICE_MANAGER[0])},
                      metadata.get("ownerReferences") or [], metadata["annotations"].get(PROJECTION_ANNOTATION, ""),
                      actual.get("addressType", "IPv4"), (actual.get("ports") or [{}])[0].get("port", 0), [])
    return with_hash(body)


def owned(body: Mapping) -> str | None:
    """The uid of the Projection that owns this object, or None when it is not ours."""
    labels = (body.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY[0]) == MANAGED_BY[1] and labels.get(PROJECTION_UID):
        return labels[PROJECTION_UID]
    return None


def matches(desired: Mapping, actual: Mapping) -> bool:
    """Whether the object in the cluster already is what we want: our hash on it, and none of
    what we set changed by someone else since."""
    want_meta, have_meta = desired["metadata"], actual.get("metadata") or {}
    for field in ("labels", "annotations"):
        have = have_meta.get(field) or {}
        if any(have.get(k) != v for k, v in want_meta[field].items()):
            return False
    if desired["kind"] == "Service":
        want, have = desired["spec"], actual.get("spec") or {}
        return (have.get("clusterIP") == "None" and not have.get("selector")
                and [(p.get("name"), p.get("port"), p.get("targetPort"), p.get("protocol"))
                     for p in have.get("ports") or ()]
                == [(p["name"], p["port"], p["targetPort"], p["protocol"]) for p in want["ports"]])
    return (actual.get("addressType") == desired["addressType"]
            and [(p.get("name"), p.get("port"), p.get("protocol")) for p in actual.get("ports") or ()]
            == [(p["name"], p["port"], p["protocol"]) for p in desired["ports"]]
            and endpoint_view(actual) == endpoint_view(desired))


def endpoint_view(body: Mapping) -> list:
    return [(tuple(e.get("addresses") or ()), e.get("hostname"), (e.get("conditions") or {}).get("ready"))
            for e in body.get("endpoints") or ()]


@dataclasses.dataclass
class Writes:
    apply: list[tuple[Key, dict]] = dataclasses.field(default_factory=list)   # Services first
    delete: list[tuple[Key, str]] = dataclasses.field(default_factory=list)   # (key, uid); slices first

    def __bool__(self) -> bool:
        return bool(self.apply or self.delete)


def plan(desired: Mapping[Key, dict], actual: Mapping[Key, Mapping], unwanted_since: dict[Key, float],
         now: float, grace: float, may_delete: bool, gone_projections: Iterable[str] = ()) -> Writes:
    """The writes that bring `actual` (our objects in the cluster) to `desired`.

    An object no longer desired is kept for `grace` seconds (slices emptied at once), and
    deleted only when `may_delete` (a healthy, fully read ZooKeeper) - unless its Projection
    itself is gone (`gone_projections`, uids), which removes what it made at once.
    `unwanted_since` is the caller's memory of when each object stopped being desired."""
    writes = Writes()
    gone = set(gone_projections)
    for key in list(unwanted_since):
        if key in desired or key not in actual:
            del unwanted_since[key]
    for key, body in desired.items():
        if key not in actual or not matches(body, actual[key]):
            writes.apply.append((key, body))
    deletions = []
    for key, body in actual.items():
        if key in desired:
            continue
        if owned(body) in gone:
            deletions.append(key)
            continue
        since = unwanted_since.setdefault(key, now)
        if may_delete and now - since >= grace:
            deletions.append(key)
        elif key[0] == "EndpointSlice" and body.get("endpoints"):
            writes.apply.append((key, emptied(body)))
    writes.apply.sort(key=lambda item: item[0][0] != "Service")
    writes.delete = sorted(((key, actual[key]["metadata"].get("uid", "")) for key in deletions),
                           key=lambda item: item[0][0] == "Service")
    return writes
