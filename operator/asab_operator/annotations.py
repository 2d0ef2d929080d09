"""The `discovery.asab/*` annotations: their keys, and parsing them into a validated spec.

Pure: no I/O. Every problem names the annotation it is about, so that the
Warning Event on the object and the log line tell the user what to fix.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Mapping

PREFIX = "discovery.asab/"
SERVICE_ID = PREFIX + "service-id"
INSTANCE_ID = PREFIX + "instance-id"
PORT = PREFIX + "port"
NODE_ID = PREFIX + "node-id"
DISCOVERY = PREFIX + "discovery"
HOST = PREFIX + "host"
MODE = PREFIX + "mode"
KNOWN_KEYS = {
    "Pod": (SERVICE_ID, INSTANCE_ID, PORT, NODE_ID, DISCOVERY, HOST),
    "Service": (SERVICE_ID, INSTANCE_ID, PORT, NODE_ID, DISCOVERY, MODE),
}
HOST_MODES = ("ip",)
SERVICE_MODES = ("endpoints", "service")

# An id ends up as `<id>.<id_type>.asab` in a URL. URL hosts are lower-cased by
# aiohttp/yarl, so an id with capitals could be located but never reached.
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
ID_PATTERN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
# The id type is the middle part of `hostname.rsplit(".", 2)`: no dot, ever.
ID_TYPE_PATTERN = re.compile(rf"^{_LABEL}$")
# IANA service names, as Kubernetes port names: at most 15, a letter among them.
PORT_NAME_PATTERN = re.compile(r"^(?=[a-z0-9-]*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")
PORT_NUMBER_PATTERN = re.compile(r"[0-9]{1,5}")   # ASCII digits only: int() takes others too
MAX_VALUE = 64 * 1024
RESERVED_ID_TYPES = ("service_id", "instance_id")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, named by the field it is about."""
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class AdvertiseSpec:
    """What the annotations ask for, validated; defaults are filled in by each source."""
    service_id: str
    instance_id: str | None = None
    port: int | str | None = None          # a number, or a port name to look up
    node_id: str | None = None
    discovery: tuple[tuple[str, tuple[str, ...]], ...] = ()
    host_mode: str = "ip"
    mode: str = "endpoints"                # Services only: one record per endpoint, or one for the Service


def id_problem(value: str) -> str | None:
    """Why `value` cannot be an id in a `<value>.<id_type>.asab` URL, or None."""
    if not value:
        return "must not be empty"
    if len(value) > 253:
        return "is longer than 253 characters"
    if not ID_PATTERN.fullmatch(value):
        return (f"{value!r} cannot appear in a <value>.<id_type>.asab host name: use lower-case "
                "letters, digits, '-' and '_', in dot-separated labels of at most 63 characters")
    return None


def parse_port(value: str) -> tuple[int | str | None, str | None]:
    """A port annotation: (port number or name, problem)."""
    value = value.strip()
    if PORT_NUMBER_PATTERN.fullmatch(value):
        number = int(value)
        if not 1 <= number <= 65535:
            return None, f"port {number} is out of range 1-65535"
        return number, None
    if PORT_NAME_PATTERN.fullmatch(value):
        return value, None
    return None, f"{value[:80]!r} is neither a port number (1-65535) nor a port name"


def parse_discovery(value: str) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], list[str]]:
    """Custom ids, JSON `{"id_type": ["id", ...]}`: (sorted pairs, problems)."""
    if len(value) > MAX_VALUE:
        return (), [f"is longer than {MAX_VALUE} characters"]
    duplicates: list[str] = []

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        duplicates.extend(k for k in set(keys) if keys.count(k) > 1)
        return dict(pairs)
    try:
        parsed = json.loads(value, object_pairs_hook=no_duplicates)
    except ValueError as error:
        return (), [f"invalid JSON ({error.msg} at position {error.pos})"]
    except RecursionError:
        return (), ["is nested too deeply"]
    if duplicates:
        return (), [f"id type {sorted(duplicates)[0]!r} appears twice"]
    if not isinstance(parsed, dict):
        return (), ['must be a JSON object like {"id_type": ["id", ...]}']
    problems: list[str] = []
    pairs = []
    for id_type, ids in sorted(parsed.items()):
        if not ID_TYPE_PATTERN.fullmatch(id_type):
            problems.append(f"id type {id_type!r} must be one DNS label (no dots: ASAB splits "
                            "<value>.<id_type>.asab at the last two dots), lower-case")
            continue
        if id_type in RESERVED_ID_TYPES:
            problems.append(f"id type {id_type!r} is set by its own annotation, not here")
            continue
        if not isinstance(ids, list) or not ids:
            problems.append(f"the ids of {id_type!r} must be a non-empty JSON list of strings")
            continue
        bad = [i for i in ids if not isinstance(i, str) or id_problem(i)]
        if bad:
            first = bad[0]
            why = "is not a string" if not isinstance(first, str) else id_problem(first)
            problems.append(f"id {first!r} of {id_type!r} {why}")
            continue
        pairs.append((id_type, tuple(dict.fromkeys(ids))))
    return tuple(pairs), problems


def is_annotated(annotations: Mapping[str, str] | None) -> bool:
    return bool(annotations) and any(key.startswith(PREFIX) for key in annotations)


def parse_annotations(annotations: Mapping[str, str], kind: str = "Pod") -> tuple[AdvertiseSpec | None, tuple[Problem, ...]]:
    """Validate the `discovery.asab/*` annotations of a Pod or Service; a spec only when nothing is wrong."""
    problems: list[Problem] = []
    known = KNOWN_KEYS[kind]
    for key in sorted(annotations):
        if key.startswith(PREFIX) and key not in known:
            problems.append(Problem(key, f"unknown annotation on a {kind}; known ones: {', '.join(known)}"))

    service_id = annotations.get(SERVICE_ID)
    if service_id is None:
        problems.append(Problem(SERVICE_ID, "is required to advertise this object"))
    elif (why := id_problem(service_id.strip())):
        problems.append(Problem(SERVICE_ID, why))

    instance_id = annotations.get(INSTANCE_ID)
    if instance_id is not None and (why := id_problem(instance_id.strip())):
        problems.append(Problem(INSTANCE_ID, why))

    port = None
    if PORT in annotations:
        port, why = parse_port(annotations[PORT])
        if why:
            problems.append(Problem(PORT, why))

    node_id = annotations.get(NODE_ID)
    if node_id is not None and (not node_id.strip() or len(node_id) > 253):
        problems.append(Problem(NODE_ID, "must be 1-253 characters, not only spaces"))

    discovery: tuple = ()
    if DISCOVERY in annotations:
        discovery, whys = parse_discovery(annotations[DISCOVERY])
        problems.extend(Problem(DISCOVERY, why) for why in whys)

    host_mode = annotations.get(HOST, "ip").strip()
    if host_mode not in HOST_MODES:
        problems.append(Problem(HOST, f"unknown host mode {host_mode!r}; supported: {', '.join(HOST_MODES)}"))

    mode = annotations.get(MODE, "endpoints").strip()
    if mode not in SERVICE_MODES:
        problems.append(Problem(MODE, f"unknown mode {mode!r}; supported: {', '.join(SERVICE_MODES)}"))
    elif kind == "Service" and mode == "endpoints" and instance_id is not None:
        problems.append(Problem(INSTANCE_ID, "cannot be set in endpoints mode: each endpoint is an instance of "
                                             "its own, named after its Pod; use discovery.asab/mode: service"))

    if problems:
        return None, tuple(problems)
    return AdvertiseSpec(
        service_id=service_id.strip(),
        instance_id=instance_id.strip() if instance_id is not None else None,
        port=port,
        node_id=node_id.strip() if node_id is not None else None,
        discovery=discovery,
        host_mode=host_mode,
        mode=mode,
    ), ()
