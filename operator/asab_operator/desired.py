"""The desired set of advertisements: what every watched object contributes, with
duplicate `instance_id` claims settled. Pure and in memory: no I/O, no clocks.

Each source (one Kubernetes object, or one Pod selected by an Advertisement)
replaces its whole contribution at once. When several nodes claim the same
`instance_id`, the one with the lowest rank (oldest object, then kind, namespace
and name) is advertised and the others are reported; ranks do not change while
the objects live, so the winner never flips between reconciles.
"""
from __future__ import annotations

import dataclasses
from typing import Hashable, Iterable

from .record import Owner


@dataclasses.dataclass(frozen=True)
class Advert:
    node: str                 # the node name under /<path>/run
    data: bytes               # the record, exactly as written
    instance_id: str
    owner: Owner              # the object it stands for (Events go there)
    rank: tuple = ()          # lower wins a duplicate instance_id


@dataclasses.dataclass(frozen=True)
class Conflict:
    loser: Advert
    winner: Advert

    def message(self) -> str:
        w = self.winner.owner
        return (f"instance_id {self.loser.instance_id!r} is also claimed by {w.kind} {w.namespace}/{w.name}, "
                "which keeps it (created earlier, or first by kind, namespace and name when created in the "
                "same second); this one is not advertised")


@dataclasses.dataclass
class Change:
    nodes: set[str] = dataclasses.field(default_factory=set)        # whose desired data changed
    conflicts: list[Conflict] = dataclasses.field(default_factory=list)  # newly lost claims


class DesiredState:
    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}                 # node -> data: what ZooKeeper should hold
        self._by_source: dict[Hashable, dict[str, Advert]] = {}
        self._claims: dict[str, dict[str, Advert]] = {}     # instance_id -> node -> advert
        self._lost_to: dict[str, str] = {}                   # loser node -> winner node
        self._sources_by_kind: dict[str, int] = {}           # kept as sources come and go: read per change

    def replace(self, source: Hashable, adverts: Iterable[Advert]) -> Change:
        new = {a.node: a for a in adverts}
        old = self._by_source.get(source, {})
        if new == old:
            return Change()
        touched: set[str] = set()
        for node, advert in old.items():
            if new.get(node) != advert:
                self._claims.get(advert.instance_id, {}).pop(node, None)
                touched.add(advert.instance_id)
        for node, advert in new.items():
            if old.get(node) != advert:
                self._claims.setdefault(advert.instance_id, {})[node] = advert
                touched.add(advert.instance_id)
        for node in set(old) - set(new):
            self._lost_to.pop(node, None)
        if new:
            if not old:
                self._count(source, +1)
            self._by_source[source] = new
        elif self._by_source.pop(source, None) is not None:
            self._count(source, -1)
        change = Change()
        for node in set(old) - set(new):
            if self.records.pop(node, None) is not None:
                change.nodes.add(node)
        for instance_id in touched:
            self._settle(instance_id, change)
        return change

    def _settle(self, instance_id: str, change: Change) -> None:
        claims = self._claims.get(instance_id)
        if not claims:
            self._claims.pop(instance_id, None)
            return
        winner = min(claims.values(), key=lambda a: (a.rank, a.node))
        for node, advert in claims.items():
            if node == winner.node:
                self._lost_to.pop(node, None)
                if self.records.get(node) != advert.data:
                    self.records[node] = advert.data
                    change.nodes.add(node)
            else:
                if self.records.pop(node, None) is not None:
                    change.nodes.add(node)
                if self._lost_to.get(node) != winner.node:
                    self._lost_to[node] = winner.node
                    change.conflicts.append(Conflict(advert, winner))

    def contribution(self, source: Hashable) -> dict[str, Advert]:
        return self._by_source.get(source, {})

    def sources(self) -> Iterable[Hashable]:
        return self._by_source.keys()

    def count_by_kind(self) -> dict[str, int]:
        """Sources contributing adverts, by kind (the first element of a tuple source)."""
        return dict(self._sources_by_kind)

    def _count(self, source: Hashable, delta: int) -> None:
        kind = source[0] if isinstance(source, tuple) else str(source)
        self._sources_by_kind[kind] = self._sources_by_kind.get(kind, 0) + delta

    def lost_to(self, node: str) -> Advert | None:
        """The advert that keeps `node`'s instance_id from it, if any."""
        winner = self._lost_to.get(node)
        if winner is None:
            return None
        for claims in self._claims.values():
            if winner in claims:
                return claims[winner]
        return None

    def is_advertised(self, advert: Advert) -> bool:
        return self.records.get(advert.node) == advert.data
