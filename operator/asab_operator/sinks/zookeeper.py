"""The ZooKeeper sink: keeps the desired advertisements as ephemeral nodes under `/<path>/run`.

One worker task does every write, so incremental changes and full reconciles never
race. Kazoo's asynchronous calls are pipelined on its one connection, so a batch of
500 creates costs about one round trip, not 500.

Sessions: ephemeral nodes live as long as the session that made them. After a new
session (expiry, or the first connect) everything this session wrote is forgotten
and a full reconcile restores every advertisement, replacing stale nodes that an
older session of ours still holds.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Callable, Hashable, Iterable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (BadVersionError, ConnectionLoss, NodeExistsError, NoNodeError,
                              NotEmptyError, SessionExpiredError)

from .. import metrics
from ..zkasync import call as zk_call, in_batches
from ..leadership import Leadership, NotLeader, write
from ..desired import Advert, Change, DesiredState
from ..plan import ObservedNode, Plan, incremental_plan, reconcile_plan
from ..record import Identity, node_prefix, owned_by

log = logging.getLogger(__name__)
RETRYABLE = (ConnectionLoss, SessionExpiredError, NotLeader)


class Advertiser:
    def __init__(self, client: KazooClient, run_path: str, identity: Identity,
                 reconcile_period: float = 60.0, namespaces: frozenset[str] | None = None,
                 leadership: Leadership | None = None) -> None:
        self.client = client
        self.run_path = run_path.rstrip("/")
        self.identity = identity
        self.reconcile_period = reconcile_period
        self.namespaces = namespaces   # None: all; else nodes for other namespaces are not ours to delete
        self.leadership = leadership   # None: always write; else only as the leader, fenced
        self.state = DesiredState()
        self.on_change: Callable[[Change], None] = lambda change: None
        self._written: dict[str, bytes] = {}   # confirmed in ZooKeeper in this session
        self._dirty: set[str] = set()
        self._full_requested = True
        self._kubernetes_synced = False
        self._session_id: int | None = None
        self._connected = False
        self._run_path_ready = False
        self._stuck: set[str] = set()   # nodes of ours that others put children under
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- inputs (called from handlers, on the event loop) ---

    def update(self, source: Hashable, adverts: Iterable[Advert]) -> None:
        """Replace what one source contributes; only changed nodes get work.
        `on_change` hears of every change (to report lost claims, refresh statuses)."""
        change = self.state.replace(source, adverts)
        if change.nodes:
            self._dirty |= change.nodes
            self._wake.set()
            for kind, count in self.state.count_by_kind().items():
                metrics.ADVERTISEMENTS.labels(source=kind).set(count)
        if change.nodes or change.conflicts:
            self.on_change(change)

    @property
    def desired(self) -> dict[str, bytes]:
        return self.state.records

    def kubernetes_synced(self) -> None:
        """The first complete listing is in: from now on, stale nodes of ours may be deleted."""
        if not self._kubernetes_synced:
            self._kubernetes_synced = True
            self.request_reconcile()

    def request_reconcile(self) -> None:
        self._full_requested = True
        self._wake.set()

    def checks(self) -> dict[str, bool]:
        """What readiness needs: the first listing handled, and a ZooKeeper connection."""
        return {"kubernetes_synced": self._kubernetes_synced, "zookeeper_connected": self._connected}

    # --- session tracking (kazoo calls the listener from its own thread) ---

    def _on_state(self, state: str) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._state_changed, state)

    def _state_changed(self, state: str) -> None:
        metrics.ZOOKEEPER_CONNECTED.set(1 if state == KazooState.CONNECTED else 0)
        if state != KazooState.CONNECTED:
            self._connected = False
            if state == KazooState.LOST:
                self._written.clear()
            servers = ",".join(f"{host}:{port}" for host, port in self.client.hosts)
            log.warning("ZooKeeper connection %s (%s); not ready until it is back", state.lower(), servers)
            return
        self._connected = True
        session_id = self.client.client_id[0] if self.client.client_id else None
        if session_id != self._session_id:
            log.info("ZooKeeper session 0x%x established; restoring every advertisement", session_id or 0)
            self._session_id = session_id
            self._written.clear()
            self._full_requested = True
        self._dirty.update(self.desired)  # cheap: unchanged names plan to nothing
        self._wake.set()

    # --- the worker ---

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client.add_listener(self._on_state)
        if self.client.connected:
            self._state_changed(KazooState.CONNECTED)
        if self.leadership is not None:
            self.leadership.on_gain.append(self.request_reconcile)
        periodic = asyncio.create_task(self._periodic())
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if not self._connected:
                    continue
                try:
                    await self._work()
                except RETRYABLE as error:
                    log.warning("ZooKeeper write interrupted (%s); retrying after reconnect",
                                type(error).__name__)
                except Exception:
                    metrics.ERRORS.labels(kind="zookeeper").inc()
                    log.exception("ZooKeeper sync failed; retrying in 1 s")
                    await asyncio.sleep(1)
                    self._full_requested = True
                    self._wake.set()
        finally:
            periodic.cancel()
            self.client.remove_listener(self._on_state)

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_period)
            self.request_reconcile()

    async def _work(self) -> None:
        if self.leadership is not None and not self.leadership.leader:
            return     # a standby: the desired state stays current, the leader writes (fenced)
        if self._full_requested and self._kubernetes_synced:
            self._full_requested = False
            self._dirty.clear()
            await self._reconcile()
        elif not self._run_path_ready:
            # Before the first complete listing: create what we know, delete nothing.
            await self._ensure_run_path()
        if self._dirty:
            names, self._dirty = self._dirty, set()
            try:
                await self._apply(incremental_plan(names, self.desired, self._written))
            except BaseException:
                self._dirty |= names
                raise

    async def _ensure_run_path(self) -> None:
        await asyncio.to_thread(self.client.ensure_path, self.run_path)
        self._run_path_ready = True

    async def _reconcile(self) -> None:
        started = time.monotonic()
        await self._ensure_run_path()
        session_id = self._session_id or 0
        observed = await self._list_run()
        plan = reconcile_plan(self.desired, observed, self.identity, session_id,
                              allow_delete=self._kubernetes_synced, namespaces=self.namespaces)
        self._written = dict(plan.in_place)
        for name in plan.conflicts:
            metrics.ERRORS.labels(kind="name_conflict").inc()
            log.error("node %s/%s exists and is not ours; left alone, not advertised", self.run_path, name)
        await self._apply(plan)
        metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)
        log.debug("reconciled %d nodes: %d writes", len(observed), plan.writes)

    async def _list_run(self) -> dict[str, ObservedNode]:
        """Our part of /<path>/run: every node we write has our name prefix, so only those
        are read (after an expiry there are none, and restoring costs only the creates)."""
        prefix = node_prefix(self.identity)
        children = [name for name in await zk_call(self.client.get_children_async(self.run_path))
                    if name.startswith(prefix)]
        results = await in_batches([lambda path=f"{self.run_path}/{name}": zk_call(self.client.get_async(path))
                                    for name in children])
        observed = {}
        for name, result in zip(children, results):
            if isinstance(result, NoNodeError):
                continue
            if isinstance(result, BaseException):
                raise result
            data, stat = result
            observed[name] = ObservedNode(data or b"", stat.ephemeralOwner, stat.version)
        return observed

    async def _apply(self, plan: Plan) -> None:
        """Issue every write of the plan at once and wait for all of them."""
        jobs = [functools.partial(self._create, name, data) for name, data in plan.create.items()]
        jobs += [functools.partial(self._set, name, data) for name, data in plan.update.items()]
        jobs += [functools.partial(self._replace, name, data) for name, data in plan.replace.items()]
        jobs += [functools.partial(self._delete, name) for name in plan.delete]
        if not jobs:
            return
        results = await in_batches(jobs)
        errors = [r for r in results if isinstance(r, BaseException)]
        retryable = [e for e in errors if isinstance(e, RETRYABLE)]
        if retryable:
            raise retryable[0]
        for error in errors:
            metrics.ERRORS.labels(kind="zookeeper").inc()
            log.error("ZooKeeper write failed: %r", error)
        if errors:
            raise errors[0]

    def _path(self, name: str) -> str:
        return f"{self.run_path}/{name}"

    async def _create(self, name: str, data: bytes) -> None:
        try:
            await self._write("create", self._path(name), data, ephemeral=True)
            metrics.ZOOKEEPER_WRITES.labels(op="create").inc()
        except NodeExistsError:
            await self._take_over(name, data)
            return
        self._written[name] = data

    async def _take_over(self, name: str, data: bytes) -> None:
        """A create met an existing node: ours from this session, ours but stale, or foreign."""
        try:
            current, stat = await zk_call(self.client.get_async(self._path(name)))
        except NoNodeError:
            return await self._create(name, data)
        if stat.ephemeralOwner == self._session_id and owned_by(self.identity, current):
            if current != data:
                await self._set(name, data, stat.version)
            self._written[name] = data
        elif owned_by(self.identity, current):
            await self._replace(name, data, stat.version)
        else:
            metrics.ERRORS.labels(kind="name_conflict").inc()
            log.error("node %s exists and is not ours; left alone, not advertised", self._path(name))

    async def _set(self, name: str, data: bytes, version: int = -1) -> None:
        try:
            await self._write("set_data", self._path(name), data, version)
            metrics.ZOOKEEPER_WRITES.labels(op="set").inc()
        except NoNodeError:
            return await self._create(name, data)
        self._written[name] = data

    async def _replace(self, name: str, data: bytes, version: int = -1) -> None:
        try:
            await self._write("delete", self._path(name), version)
            metrics.ZOOKEEPER_WRITES.labels(op="delete").inc()
        except (NoNodeError, BadVersionError):
            pass
        except NotEmptyError:
            return self._not_empty(name)
        await self._create(name, data)

    async def _delete(self, name: str) -> None:
        try:
            await self._write("delete", self._path(name))
            metrics.ZOOKEEPER_WRITES.labels(op="delete").inc()
        except NoNodeError:
            pass
        except NotEmptyError:
            return self._not_empty(name)
        self._written.pop(name, None)

    def _not_empty(self, name: str) -> None:
        """Someone put children under a node of ours (ours are ephemeral and cannot have any: this
        one is a persistent copy). Deleting them would touch what is not ours: report, leave it."""
        if name not in self._stuck:
            self._stuck.add(name)
            metrics.ERRORS.labels(kind="node_not_empty").inc()
            log.error("node %s has children that are not ours; it is left alone", self._path(name))

    async def _write(self, op: str, *args, **kwargs):
        return await write(self.client, self.leadership, op, *args, **kwargs)
