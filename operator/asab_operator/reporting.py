"""Telling users what is wrong: Warning Events on their objects and a log line each.

An Event is posted once per change of the problem, not on every resync, so that
a steady state costs no Kubernetes writes.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Hashable, Iterable

from . import metrics
from .desired import Conflict
from .leadership import NotLeader
from .record import Owner

log = logging.getLogger(__name__)
API_VERSIONS = {"Pod": "v1", "Service": "v1", "Advertisement": "discovery.asab/v1alpha1",
                "Projection": "discovery.asab/v1alpha1"}


def object_reference(owner: Owner) -> dict:
    """A body minimal enough for kopf to post an Event about the object."""
    return {"apiVersion": API_VERSIONS.get(owner.kind, "v1"), "kind": owner.kind,
            "metadata": {"namespace": owner.namespace, "name": owner.name, "uid": owner.uid}}


def reference_of(kind: str, body) -> dict:
    """The involved object of an Event, from a body (list items carry no kind or apiVersion)."""
    metadata = body.get("metadata") or {}
    return {"apiVersion": API_VERSIONS.get(kind, "v1"), "kind": kind,
            "metadata": {"namespace": metadata.get("namespace", ""), "name": metadata.get("name", ""),
                         "uid": metadata.get("uid")}}


class Reporter:
    """`post(involved object, type, reason, message)` writes an Event (KubeApi.post_event)."""

    def __init__(self, post: Callable[[dict, str, str, str], Awaitable[None]],
                 may_write: Callable[[], bool] = lambda: True) -> None:
        self._post = post
        self.may_write = may_write
        self._unposted: dict[Hashable, tuple[dict, str, str]] = {}   # held back, by source, for when it may write
        self._reported: dict[Hashable, str] = {}   # source -> the message last posted
        self._posting: set[asyncio.Task] = set()

    def _warn(self, involved: dict, reason: str, message: str, held: Hashable) -> None:
        """Post in the background: a slow API server never holds up ZooKeeper. `held`: what
        it is kept under while this replica may not write."""
        if not self.may_write():
            self._unposted[held] = (involved, reason, message)
            return

        async def post() -> None:
            try:
                await self._post(involved, "Warning", reason, message[:1024])
            except NotLeader:
                self._unposted[held] = (involved, reason, message)
            except Exception as error:
                log.warning("could not post an Event about %s %s/%s: %s", involved["kind"],
                            involved["metadata"]["namespace"], involved["metadata"]["name"], error)
        task = asyncio.get_running_loop().create_task(post())
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    def problems(self, body, source: Hashable, problems: Iterable, reason: str = "InvalidAnnotation",
                 verdict: str = "not advertised") -> None:
        problems = tuple(problems)
        if not problems:
            self._drop_unposted(source)
            if self._reported.pop(source, None) is not None:
                log.info("%s %s/%s: valid again", *source[:3])
                self._count(source)
            return
        message = f"{verdict}: " + "; ".join(str(p) for p in problems)
        if self._reported.get(source) == message:
            return
        self._reported[source] = message
        self._count(source)
        log.warning("%s %s/%s: %s", *source[:3], message)
        self._warn(reference_of(source[0], body), reason, message, source)

    def conflicts(self, conflicts: Iterable[Conflict]) -> None:
        for conflict in conflicts:
            owner = conflict.loser.owner
            log.warning("%s %s/%s: %s", owner.kind, owner.namespace, owner.name, conflict.message())
            self._warn(object_reference(owner), "DuplicateInstanceId", conflict.message(),
                       ("conflict", owner.kind, owner.namespace, owner.name, conflict.message()))

    def flush(self) -> None:
        """Post what was held back while this replica was a standby."""
        unposted, self._unposted = self._unposted, {}
        for held, (involved, reason, message) in unposted.items():
            self._warn(involved, reason, message, held)

    def forget(self, source: Hashable) -> None:
        self._drop_unposted(source)
        if self._reported.pop(source, None) is not None:
            self._count(source)

    def _drop_unposted(self, source: Hashable) -> None:
        """A problem fixed (or its object gone) while held back is not posted later."""
        self._unposted.pop(source, None)

    def message(self, source: Hashable) -> str | None:
        return self._reported.get(source)

    def sources(self) -> Iterable[Hashable]:
        return self._reported.keys()

    def _count(self, source: Hashable) -> None:
        kind = source[0]
        metrics.INVALID_OBJECTS.labels(source=kind).set(sum(1 for s in self._reported if s[0] == kind))
