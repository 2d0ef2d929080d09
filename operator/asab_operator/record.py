"""ASAB advertisement records: building, encoding, naming and ownership.

The record is the JSON that an ASAB service writes about itself under
`/<path>/run` (see shared/ASAB-CONTRACT.md, section 1), plus an ownership
marker that ASAB ignores. Pure: no I/O.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json

ASAB_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MARKER_KEY = "asab_operator"
# Node names: `k8s~<cluster tag>~<kind>~<namespace>~<name>`. Kubernetes names never
# hold `~`, so the parts are unambiguous, and ASAB's own `<AppClass>.<10 digits>`
# (created sequential) can never take one of these names.
NAME_PREFIX = "k8s"
SEPARATOR = "~"


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who this operator is: the cluster identity written into every marker."""
    cluster: str

    @property
    def tag(self) -> str:
        """A short, stable form of the cluster identity for node names."""
        return hashlib.sha256(self.cluster.encode()).hexdigest()[:10]


@dataclasses.dataclass(frozen=True)
class Owner:
    """The Kubernetes object a record stands for."""
    kind: str
    namespace: str
    name: str
    uid: str


def node_prefix(identity: Identity) -> str:
    """What every node name of this identity starts with."""
    return SEPARATOR.join((NAME_PREFIX, identity.tag, ""))


def node_name(identity: Identity, kind: str, namespace: str, name: str) -> str:
    return node_prefix(identity) + SEPARATOR.join((kind.lower(), namespace, name))


def asab_time(kubernetes_time: str | None) -> str | None:
    """`2026-12-03T15:02:30Z` (Kubernetes) as ASAB's `2026-12-03T15:02:30.000000Z`."""
    if not kubernetes_time:
        return None
    parsed = datetime.datetime.fromisoformat(kubernetes_time.replace("Z", "+00:00"))
    return parsed.astimezone(datetime.timezone.utc).strftime(ASAB_TIME_FORMAT)


def build_record(*, identity: Identity, owner: Owner, host: str, port: int, appclass: str,
                 service_id: str, instance_id: str, node_id: str | None,
                 launch_time: str | None, discovery: tuple = ()) -> dict:
    """A record in ASAB's key order: the keys ASAB writes, then the ownership marker."""
    record: dict = {"host": host, "appclass": appclass}
    if launch_time:
        record["launch_time"] = launch_time
    record["instance_id"] = instance_id  # always: ASAB 25.15 needs it to index service_id
    if node_id:
        record["node_id"] = node_id
    record["service_id"] = service_id
    record["containerized"] = True
    if discovery:
        record["discovery"] = {id_type: list(ids) for id_type, ids in discovery}
    record["web"] = [["0.0.0.0", port]]
    record[MARKER_KEY] = {"cluster": identity.cluster, **dataclasses.asdict(owner)}
    return record


def encode(record: dict) -> bytes:
    """Bytes exactly as ASAB's json.dumps writes them (default separators, ASCII)."""
    return json.dumps(record).encode("utf-8")


def marker_of(data: bytes | None) -> dict | None:
    """The ownership marker of a node's data, or None for anything not ours to judge."""
    try:
        record = json.loads(data) if data else None
    except ValueError:
        return None
    marker = record.get(MARKER_KEY) if isinstance(record, dict) else None
    return marker if isinstance(marker, dict) else None


def owned_by(identity: Identity, data: bytes | None) -> bool:
    marker = marker_of(data)
    return marker is not None and marker.get("cluster") == identity.cluster
