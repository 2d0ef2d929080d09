"""Telling users what is wrong: Warning Events on their objects and a log line each.

An Event is posted once per change of the problem, not on every resync, so that
a steady state costs no Kubernetes writes.
"""
from __future__ import annotations

import logging
from typing import Hashable, Iterable

import kopf

from . import metrics
from .desired import Conflict
from .record import Owner

log = logging.getLogger(__name__)
API_VERSIONS = {"Pod": "v1", "Service": "v1", "Advertisement": "discovery.asab/v1alpha1"}


def object_reference(owner: Owner) -> dict:
    """A body minimal enough for kopf to post an Event about the object."""
    return {"apiVersion": API_VERSIONS.get(owner.kind, "v1"), "kind": owner.kind,
            "metadata": {"namespace": owner.namespace, "name": owner.name, "uid": owner.uid}}


class Reporter:
    def __init__(self) -> None:
        self._reported: dict[Hashable, str] = {}   # source -> the message last posted

    def problems(self, body, source: Hashable, problems: Iterable, reason: str = "InvalidAnnotation") -> None:
        problems = tuple(problems)
        if not problems:
            if self._reported.pop(source, None) is not None:
                log.info("%s %s/%s: valid again", *source[:3])
                self._count(source)
            return
        message = "not advertised: " + "; ".join(str(p) for p in problems)
        if self._reported.get(source) == message:
            return
        self._reported[source] = message
        self._count(source)
        log.warning("%s %s/%s: %s", *source[:3], message)
        kopf.warn(body, reason=reason, message=message[:1024])

    def conflicts(self, conflicts: Iterable[Conflict]) -> None:
        for conflict in conflicts:
            owner = conflict.loser.owner
            log.warning("%s %s/%s: %s", owner.kind, owner.namespace, owner.name, conflict.message())
            kopf.warn(object_reference(owner), reason="DuplicateInstanceId", message=conflict.message())

    def forget(self, source: Hashable) -> None:
        if self._reported.pop(source, None) is not None:
            self._count(source)

    def message(self, source: Hashable) -> str | None:
        return self._reported.get(source)

    def sources(self) -> Iterable[Hashable]:
        return self._reported.keys()

    def _count(self, source: Hashable) -> None:
        kind = source[0]
        metrics.INVALID_OBJECTS.labels(source=kind).set(sum(1 for s in self._reported if s[0] == kind))
