"""What to create, update, replace and delete in `/<path>/run`. Pure: no I/O, no clocks.

Two entry points share one Plan:
- `incremental_plan`: a few names changed; compare with what this session wrote.
- `reconcile_plan`: the whole listing of `/<path>/run` against the whole desired set,
  touching only nodes whose marker carries our cluster identity.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

from .record import Identity, marker_of, owned_by


@dataclasses.dataclass(frozen=True)
class ObservedNode:
    data: bytes
    ephemeral_owner: int   # the ZooKeeper session that holds the node
    version: int


@dataclasses.dataclass(frozen=True)
class Plan:
    create: Mapping[str, bytes] = dataclasses.field(default_factory=dict)
    update: Mapping[str, bytes] = dataclasses.field(default_factory=dict)
    # Ours but held by an older session: it would vanish when that session expires,
    # so it is deleted and created again in ours (Curator does the same).
    replace: Mapping[str, bytes] = dataclasses.field(default_factory=dict)
    delete: tuple[str, ...] = ()
    # Already right: what this session can count as written.
    in_place: Mapping[str, bytes] = dataclasses.field(default_factory=dict)
    # Names we want that someone else's node holds: never touched, reported.
    conflicts: tuple[str, ...] = ()

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update) + len(self.replace) + len(self.delete)


def incremental_plan(names: Iterable[str], desired: Mapping[str, bytes],
                     written: Mapping[str, bytes]) -> Plan:
    create, update, delete = {}, {}, []
    for name in sorted(names):
        want, have = desired.get(name), written.get(name)
        if want is None:
            if have is not None:
                delete.append(name)
        elif have is None:
            create[name] = want
        elif have != want:
            update[name] = want
    return Plan(create=create, update=update, delete=tuple(delete))


def reconcile_plan(desired: Mapping[str, bytes], observed: Mapping[str, ObservedNode],
                   identity: Identity, session_id: int, allow_delete: bool,
                   namespaces: frozenset[str] | None = None) -> Plan:
    """`namespaces`: the namespaces this operator watches (None: all). A node of ours for
    an object outside them belongs to another operator of the same cluster: left alone."""
    create, update, replace, in_place, delete, conflicts = {}, {}, {}, {}, [], []
    for name in sorted(observed):
        node = observed[name]
        if not owned_by(identity, node.data):
            if name in desired:
                conflicts.append(name)
            continue
        want = desired.get(name)
        if want is None:
            if allow_delete and (namespaces is None or marker_of(node.data).get("namespace") in namespaces):
                delete.append(name)
        elif node.ephemeral_owner != session_id:
            replace[name] = want
        elif node.data != want:
            update[name] = want
        else:
            in_place[name] = want
    for name in sorted(set(desired) - set(observed)):
        create[name] = desired[name]
    return Plan(create=create, update=update, replace=replace, delete=tuple(delete),
                in_place=in_place, conflicts=tuple(conflicts))
