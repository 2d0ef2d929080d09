"""The children of /<path>/run, read the way ASAB reads them and kept current with
ZooKeeper watches: a children watch on /run and a data watch on every child.

`synced` says the cache holds a complete read made under the current session; until
then (first start, or after a session expiry) its contents must not be taken as the
truth about what has gone.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError

from ..zkasync import call as zk_call, in_batches
from .asab_records import Instance, read_instance

log = logging.getLogger(__name__)
QUIET = {"no web", "no web entry on 0.0.0.0 or ::"}   # ASAB apps without a web server: normal


class RunTree:
    def __init__(self, client: KazooClient, run_path: str, on_change: Callable[[], None],
                 reconcile_period: float = 60.0) -> None:
        self.client = client
        self.run_path = run_path.rstrip("/")
        self.on_change = on_change
        self.reconcile_period = reconcile_period
        self.instances: dict[str, Instance] = {}
        self.unusable: dict[str, str] = {}      # node -> why it does not count
        self.synced = False
        self.healthy = False
        self._session: int | None = None
        self._relist = True
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- kazoo's thread hands everything to the loop ---

    def _threadsafe(self, function, *args) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(function, *args)

    def _on_state(self, state: str) -> None:
        self._threadsafe(self._state_changed, state)

    def _children_fired(self, _event) -> None:
        self._threadsafe(self._request_relist)

    def _data_fired(self, event) -> None:
        self._threadsafe(self._node_dirty, event.path.rsplit("/", 1)[-1])

    def _request_relist(self) -> None:
        self._relist = True
        self._wake.set()

    def _node_dirty(self, name: str) -> None:
        self._dirty.add(name)
        self._wake.set()

    def _state_changed(self, state: str) -> None:
        if state != KazooState.CONNECTED:
            self.healthy = False
            if state == KazooState.LOST:
                self.synced = False     # watches are gone with the session
            self.on_change()
            return
        self.healthy = True
        session = self.client.client_id[0] if self.client.client_id else None
        if session != self._session:
            self._session = session
            self.synced = False
            self._dirty.update(self.instances, self.unusable)
        self._request_relist()

    # --- the reader ---

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client.add_listener(self._on_state)
        if self.client.connected:
            self._state_changed(KazooState.CONNECTED)
        periodic = asyncio.create_task(self._periodic())
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if not self.healthy:
                    continue
                try:
                    await self._read()
                except (ConnectionLoss, SessionExpiredError) as error:
                    log.info("reading %s interrupted (%s); again when connected", self.run_path, error)
                    self._relist = True
                except Exception:
                    log.exception("reading %s failed; again in 1 s", self.run_path)
                    self._relist = True
                    await asyncio.sleep(1)
                    self._wake.set()
        finally:
            periodic.cancel()
            self.client.remove_listener(self._on_state)

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_period)
            self._dirty.update(self.instances, self.unusable)   # a full re-read, watches or not
            self._request_relist()

    async def _read(self) -> None:
        changed = False
        if self._relist:
            self._relist = False
            try:
                children = set(await zk_call(self.client.get_children_async(self.run_path,
                                                                             watch=self._children_fired)))
            except NoNodeError:
                # No /run yet: watch for it to appear (an exists watch fires on creation).
                if await zk_call(self.client.exists_async(self.run_path, watch=self._children_fired)):
                    self._relist = True
                    self._wake.set()
                    return
                children = set()
            known = set(self.instances) | set(self.unusable)
            for gone in known - children:
                self.instances.pop(gone, None)
                self.unusable.pop(gone, None)
                changed = True
            self._dirty |= children - known
            self._dirty &= children
        names, self._dirty = self._dirty, set()
        names = list(names)
        results = await in_batches([
            lambda path=f"{self.run_path}/{name}": zk_call(self.client.get_async(path, watch=self._data_fired))
            for name in names])
        failure = None
        for name, result in zip(names, results):
            if isinstance(result, NoNodeError):
                changed |= self.instances.pop(name, None) is not None or self.unusable.pop(name, None) is not None
                continue
            if isinstance(result, BaseException):
                self._dirty.add(name)      # read again; the others' results are kept
                failure = failure or result
                continue
            changed |= self._store(name, result[0])
        if failure is not None:
            if changed:
                self.on_change()
            raise failure
        if not self.synced and not self._relist and not self._dirty:
            self.synced = True
            log.info("read %s: %d instances (%d records that do not count)", self.run_path,
                     len(self.instances), len(self.unusable))
            changed = True
        if changed:
            self.on_change()

    def _store(self, name: str, data: bytes | None) -> bool:
        instance, why = read_instance(name, data)
        if instance is not None:
            self.unusable.pop(name, None)
            if self.instances.get(name) == instance:
                return False
            self.instances[name] = instance
            return True
        was = self.instances.pop(name, None)
        if self.unusable.get(name) != why:
            (log.debug if why in QUIET else log.warning)(
                "%s/%s is not a usable ASAB record (%s); skipped", self.run_path, name, why)
            self.unusable[name] = why
        return was is not None
