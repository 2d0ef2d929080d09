"""Advertisements under /<path>/run read the way ASAB's DiscoveryService reads them. Pure.

(shared contract, section 2) A record counts when it is a JSON object with a `host`
and a `web` list; of `web` only entries on "0.0.0.0" (IPv4) or "::" (IPv6) count,
their second element being the port; duplicates collapse; 4-element IPv6 entries
are fine. `instance_id` and `service_id` are id types, and so is every key of
`discovery` (whose values must be lists). Newer ASAB indexes `service_id` even
without `instance_id` (25.15 does not); projection follows the newer rule.
"""
from __future__ import annotations

import dataclasses
import json

from ..record import MARKER_KEY

WILDCARDS = {"0.0.0.0": "IPv4", "::": "IPv6"}


@dataclasses.dataclass(frozen=True)
class Instance:
    node: str                                   # the child's name under /<path>/run
    host: str
    ports: tuple[int, ...]
    ids: tuple[tuple[str, str], ...]            # (id type, id), sorted
    instance_id: str | None
    cluster: str | None                         # our kind of marker's cluster, if the record has one


def read_instance(node: str, data: bytes | None) -> tuple[Instance | None, str | None]:
    """(the instance, None), or (None, why it does not count). Never raises on bad data."""
    if not data:
        return None, "empty"
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        return None, "not JSON"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    host, web = record.get("host"), record.get("web")
    if not isinstance(host, str) or not host:
        return None, "no host"
    if not isinstance(web, list):
        return None, "no web"
    ports = []
    for entry in web:
        if (isinstance(entry, list) and len(entry) >= 2 and entry[0] in WILDCARDS
                and isinstance(entry[1], int) and not isinstance(entry[1], bool) and 1 <= entry[1] <= 65535
                and entry[1] not in ports):
            ports.append(entry[1])
    if not ports:
        return None, "no web entry on 0.0.0.0 or ::"
    ids = set()
    for id_type in ("instance_id", "service_id"):
        if isinstance(record.get(id_type), str) and record[id_type]:
            ids.add((id_type, record[id_type]))
    discovery = record.get("discovery")
    if isinstance(discovery, dict):
        for id_type, values in discovery.items():
            if isinstance(values, list):
                ids.update((id_type, v) for v in values if isinstance(v, str) and v)
    marker = record.get(MARKER_KEY)
    cluster = marker.get("cluster") if isinstance(marker, dict) else None
    instance_id = record.get("instance_id") if isinstance(record.get("instance_id"), str) else None
    return Instance(node=node, host=host, ports=tuple(ports), ids=tuple(sorted(ids)),
                    instance_id=instance_id, cluster=cluster), None
