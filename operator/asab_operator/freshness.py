"""Catching deletions that a watch never reported.

For the kinds kopf watches (Services, Advertisements; Pods have their own watch).
kopf re-lists a kind after its watch breaks (an API server restart, a 410 Gone):
every object that still exists arrives again as a listing event, but objects
deleted meanwhile produce no event at all. After each such re-list settles, the
sources whose objects were not in it are checked one by one with a GET, and the
ones whose object is gone (or was re-created with another uid) are withdrawn.
Only the few suspects cost an API call; nothing is listed a second time.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, Hashable, Iterable

log = logging.getLogger(__name__)

Subject = tuple[str, str, str]   # (kind, namespace, name) of a Kubernetes object


def subject_of(source: Hashable) -> Subject:
    """The object a source stands for: `("Advertisement", ns, name, pod)` stands for the resource
    (its Pods are followed by the Pod watch, which withdraws them itself)."""
    return tuple(source[:3])


class RelistAudit:
    def __init__(self, *, sources: Callable[[], Iterable[Hashable]],
                 exists: Callable[[Subject, str | None], Awaitable[bool]],
                 withdraw: Callable[[Hashable], None], uid_of: Callable[[Hashable, Subject], str | None],
                 quiet_period: float = 2.0) -> None:
        self._sources = sources
        self._exists = exists
        self._withdraw = withdraw
        self._uid_of = uid_of
        self._quiet = quiet_period
        self._seen: dict[Subject, float] = {}
        self._relist_started: dict[str, float] = {}
        self._last_listing_event: dict[str, float] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self.armed = False   # set once the first complete listing is in

    def seen(self, subject: Subject, listing: bool) -> None:
        """Every watch event passes here; listing events after the start mark a re-list."""
        now = time.monotonic()
        self._seen[subject] = now
        if not (listing and self.armed):
            return
        kind = subject[0]
        self._relist_started.setdefault(kind, now)
        self._last_listing_event[kind] = now
        if kind not in self._tasks or self._tasks[kind].done():
            self._tasks[kind] = asyncio.create_task(self._settle(kind), name=f"relist audit {kind}")

    def forget(self, subject: Subject) -> None:
        self._seen.pop(subject, None)

    async def _settle(self, kind: str) -> None:
        while time.monotonic() - self._last_listing_event[kind] < self._quiet:
            await asyncio.sleep(self._quiet / 4)
        started = self._relist_started.pop(kind)
        suspects = [(source, subject) for source in list(self._sources())
                    if (subject := subject_of(source))[0] == kind and self._seen.get(subject, 0) < started]
        if suspects:
            log.info("%s re-listed; checking %d objects it did not list", kind, len(suspects))
        for source, subject in suspects:
            try:
                alive = await self._exists(subject, self._uid_of(source, subject))
            except Exception:
                log.exception("could not check %s %s/%s; the next re-list will", *subject)
                continue
            if not alive:
                log.info("%s %s/%s was deleted while the watch was down; withdrawing", *subject)
                self._withdraw(source)
                self.forget(subject)


class SyncGate:
    """Opens once every object of the first listing has been through its handler.

    The operator lists, page by page, the keys of what must be handled (annotated
    Pods and Services, Advertisements) and waits for each to be handled by its
    watch event; keys whose object went away meanwhile are confirmed gone with a
    GET. Before the gate opens the operator deletes nothing in ZooKeeper: an object
    it has not handled yet is not an object that is gone.

    (kopf's indexes would give the same barrier, but kopf holds every listed
    object's body until all are indexed, and wakes every waiter on each one:
    with 50,000 Pods that is hundreds of MiB and minutes of CPU.)
    """

    def __init__(self, on_open: Callable[[], None]) -> None:
        self._on_open = on_open
        self._handled: dict[str, set] = {}
        self._pending: dict[str, set] | None = None
        self.open = False

    def handled(self, kind: str, key: tuple) -> None:
        if self.open:
            return
        if self._pending is None:
            self._handled.setdefault(kind, set()).add(key)
        else:
            self._pending.get(kind, set()).discard(key)
            self._check()

    def expect(self, listed: dict[str, set]) -> None:
        """What the first listing holds, by kind; what was handled already counts."""
        self._pending = {kind: keys - self._handled.get(kind, set()) for kind, keys in listed.items()}
        self._handled.clear()
        self._check()

    def pending(self) -> list[tuple[str, tuple]]:
        return [(kind, key) for kind, keys in (self._pending or {}).items() for key in keys]

    def _check(self) -> None:
        if self._pending is not None and not any(self._pending.values()):
            self.open = True
            self._pending = None
            log.info("the first listing is fully handled")
            self._on_open()
