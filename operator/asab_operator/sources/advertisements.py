"""`Advertisement` custom resources -> records, and their status. Pure.

Two forms (the CRD's schema enforces exactly one):
- static: `spec.host` + `spec.port`, for something outside the cluster;
- selector: `spec.selector`, every Ready Pod it matches in the namespace, as if annotated.

The schema rejects malformed input at admission; what it cannot express (an IPv6
literal host, a dotted id type, an invalid label selector) is checked here, and
each problem names its field.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from typing import Iterable, Mapping

from .. import annotations as ann
from ..desired import Advert
from ..record import Identity, Owner, asab_time, build_record, encode, node_name
from .pods import Outcome, record_for_pod

APPCLASS = "KubernetesAdvertisement"
SELECTED_APPCLASS = "KubernetesPod"
HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


@dataclasses.dataclass(frozen=True)
class Selector:
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        for key, operator, values in self.expressions:
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True

    def query(self) -> str:
        """The same selector as the API's labelSelector parameter, for a server-side list."""
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for key, operator, values in self.expressions:
            parts.append({"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                          "Exists": key, "DoesNotExist": f"!{key}"}[operator])
        return ",".join(parts)


@dataclasses.dataclass(frozen=True)
class AdvertisementSpec:
    namespace: str
    name: str
    uid: str
    created: str
    generation: int
    advertise: ann.AdvertiseSpec
    host: str | None = None
    selector: Selector | None = None


def host_problem(host: str) -> str | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not HOSTNAME.fullmatch(host) or re.fullmatch(r"[0-9.]+", host):
            return f"{host[:80]!r} is neither an IPv4 address nor a DNS name"
        return None
    if address.version == 6:
        return "an IPv6 literal makes ASAB's URLs invalid (http://::1:80); use an IPv4 address or a DNS name"
    if address.is_unspecified or address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
        return f"{host} is not an address anyone can connect to"
    return None


def selector_of(raw: Mapping) -> tuple[Selector | None, list[ann.Problem]]:
    problems = []
    labels = raw.get("matchLabels") or {}
    for key, value in sorted(labels.items()):
        if not LABEL_NAME.fullmatch(key):
            problems.append(ann.Problem("spec.selector.matchLabels", f"{key!r} is not a valid label key"))
        if not isinstance(value, str) or not LABEL_VALUE.fullmatch(value):
            problems.append(ann.Problem("spec.selector.matchLabels", f"{value!r} is not a valid label value"))
    expressions = []
    for i, expression in enumerate(raw.get("matchExpressions") or ()):
        field = f"spec.selector.matchExpressions[{i}]"
        key, operator, values = expression.get("key", ""), expression.get("operator"), expression.get("values") or []
        if not LABEL_NAME.fullmatch(key):
            problems.append(ann.Problem(field, f"{key!r} is not a valid label key"))
        if operator in ("In", "NotIn") and not values:
            problems.append(ann.Problem(field, f"operator {operator} needs values"))
        if operator in ("Exists", "DoesNotExist") and values:
            problems.append(ann.Problem(field, f"operator {operator} takes no values"))
        bad = [v for v in values if not LABEL_VALUE.fullmatch(v)]
        if bad:
            problems.append(ann.Problem(field, f"{bad[0]!r} is not a valid label value"))
        expressions.append((key, operator, tuple(values)))
    if not labels and not expressions:
        problems.append(ann.Problem("spec.selector", "is empty and would select every Pod in the namespace; "
                                                     "give matchLabels or matchExpressions"))
    if problems:
        return None, problems
    return Selector(tuple(sorted(labels.items())), tuple(expressions)), []


def parse_advertisement(body: Mapping) -> tuple[AdvertisementSpec | None, tuple[ann.Problem, ...]]:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    problems: list[ann.Problem] = []
    for field in ("serviceId", "instanceId"):
        if field in spec and (why := ann.id_problem(str(spec[field]))):
            problems.append(ann.Problem(f"spec.{field}", why))
    discovery: tuple = ()
    if spec.get("discovery"):
        discovery, whys = ann.parse_discovery(json.dumps(spec["discovery"]))
        problems.extend(ann.Problem("spec.discovery", why) for why in whys)
    host = spec.get("host")
    if host is not None and (why := host_problem(host)):
        problems.append(ann.Problem("spec.host", why))
    selector = None
    if spec.get("selector") is not None:
        selector, whys = selector_of(spec["selector"])
        problems.extend(whys)
    if host is None and spec.get("selector") is None:
        problems.append(ann.Problem("spec", "set spec.host or spec.selector"))
    port = spec.get("port")
    if isinstance(port, str):
        port, why = ann.parse_port(port)
        if why:
            problems.append(ann.Problem("spec.port", why))
    if "nodeId" in spec and not str(spec["nodeId"]).strip():
        problems.append(ann.Problem("spec.nodeId", "must not be only spaces"))
    if problems:
        return None, tuple(problems)
    return AdvertisementSpec(
        namespace=metadata.get("namespace", ""), name=metadata["name"], uid=metadata.get("uid", ""),
        created=metadata.get("creationTimestamp") or "", generation=metadata.get("generation") or 0,
        advertise=ann.AdvertiseSpec(service_id=spec["serviceId"], instance_id=spec.get("instanceId"),
                                    port=port, node_id=spec.get("nodeId"), discovery=discovery),
        host=host, selector=selector,
    ), ()


def owner_of(ad: AdvertisementSpec) -> Owner:
    return Owner(kind="Advertisement", namespace=ad.namespace, name=ad.name, uid=ad.uid)


def static_outcome(ad: AdvertisementSpec, identity: Identity) -> Outcome:
    spec = ad.advertise
    instance_id = spec.instance_id or ad.name
    owner = owner_of(ad)
    record = build_record(identity=identity, owner=owner, host=ad.host, port=spec.port, appclass=APPCLASS,
                          service_id=spec.service_id, instance_id=instance_id, node_id=spec.node_id,
                          launch_time=asab_time(ad.created), discovery=spec.discovery)
    advert = Advert(node=node_name(identity, "Advertisement", ad.namespace, ad.name), data=encode(record),
                    instance_id=instance_id, owner=owner, rank=(ad.created, "Advertisement", ad.namespace, ad.name))
    return Outcome(adverts=(advert,), annotated=True)


def selected_pod_outcome(ad: AdvertisementSpec, pod: Mapping, identity: Identity) -> Outcome:
    """One Pod that the selector matches, advertised as if it carried the annotations."""
    pod_name = pod["metadata"]["name"]
    node = node_name(identity, "Advertisement", ad.namespace, ad.name) + "~" + pod_name
    rank = (ad.created, "Advertisement", ad.namespace, ad.name, pod_name)
    return record_for_pod(pod, ad.advertise, identity, owner_of(ad), node, rank, SELECTED_APPCLASS, "spec.port")


def status(generation: int, spec_problems: Iterable[ann.Problem], advertised: Iterable[Advert],
           other_problems: Iterable[str], selector: bool) -> dict:
    """The status a resource should show now (without times: the caller keeps transition times)."""
    spec_problems = [str(p) for p in spec_problems]
    instances = []
    for advert in advertised:
        record = json.loads(advert.data)
        entry = {"instanceId": record["instance_id"], "host": record["host"], "port": record["web"][0][1]}
        if selector:
            entry["pod"] = advert.node.rsplit("~", 1)[1]
        instances.append(entry)
    instances.sort(key=lambda i: i["instanceId"])
    problems = spec_problems + sorted(other_problems)
    if spec_problems:
        ready = ("False", "Invalid", "; ".join(spec_problems))
    elif not instances:
        why = "; ".join(problems) if problems else ("no Ready Pod matches the selector" if selector else
                                                    "nothing is advertised")
        ready = ("False", "NothingAdvertised", why)
    elif problems:
        ready = ("True", "PartlyAdvertised", f"{len(instances)} advertised; " + "; ".join(problems))
    else:
        ready = ("True", "Advertised", f"{len(instances)} advertised")
    return {
        "observedGeneration": generation,
        "advertised": len(instances),
        "instances": instances[:100],
        "problems": problems[:20],
        "conditions": [{"type": "Ready", "status": ready[0], "reason": ready[1], "message": ready[2][:1024],
                        "observedGeneration": generation}],
    }
