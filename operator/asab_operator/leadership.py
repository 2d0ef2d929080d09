"""One writer among replicas: a ZooKeeper election, with fencing.

Every replica watches and keeps its caches warm; only the leader writes. The election
is ZooKeeper's recipe: each replica holds an ephemeral sequential node under the
election path, the lowest one leads, each other watches the one just below its own.

Fencing, so that a paused or partitioned old leader cannot write after losing its
session:
- ZooKeeper writes go in a transaction with a `check` of the leader's own election
  node: once its session is gone, so is that node, and the write fails.
- Kubernetes writes are allowed only while the leadership was confirmed (a round trip
  to ZooKeeper showing the node still held by this session) less than half a session
  timeout ago; another replica can take over only after a full session timeout. Each
  request is checked as it is sent (KubeApi.write_lease) and may take no longer than the
  lease has left.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import Callable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NoNodeError, RolledBackError

from . import metrics
from .zkasync import call as zk_call

log = logging.getLogger(__name__)
PREFIX = "candidate-"
ASYNC_WRITES = {"create": "create_async", "set_data": "set_async", "delete": "delete_async"}


class NotLeader(Exception):
    """This replica may not write now: it is a standby, or its leadership is unconfirmed or gone."""


def now() -> float:
    """A clock that also runs while the host is suspended: the session expires meanwhile."""
    return time.clock_gettime(time.CLOCK_BOOTTIME) if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic()


async def write(client: KazooClient, leadership: "Leadership | None", op: str, *args, **kwargs):
    """One ZooKeeper write: fenced when there is an election (Leadership.write), plain otherwise."""
    if leadership is None or not leadership.enabled:
        return await zk_call(getattr(client, ASYNC_WRITES[op])(*args, **kwargs))
    return await leadership.write(op, *args, **kwargs)


def election_path(base_path: str, tag: str, namespaces: tuple[str, ...]) -> str:
    """Replicas that would write the same things share one election: same identity, same scope."""
    scope = "cluster" if not namespaces else hashlib.sha256(",".join(sorted(namespaces)).encode()).hexdigest()[:12]
    return f"/{base_path.strip('/')}/k8s-operator/{tag}-{scope}/election"


class Leadership:
    def __init__(self, client: KazooClient, path: str, name: str, session_timeout: float,
                 enabled: bool = True) -> None:
        self.client, self.path, self.name = client, path.rstrip("/"), name
        self.session_timeout = session_timeout
        self.enabled = enabled
        self.leader = not enabled
        self.node: str | None = None          # our election node, while we hold one
        # on winning the election: take over (read everything again, write what was held back)
        self.on_gain: list[Callable[[], None]] = []
        # on renewing a lapsed confirmation (a blip within the session): writers that were
        # refused meanwhile go on; light, so that a slow moment cannot feed on itself
        self.on_renewed: list[Callable[[], None]] = []
        self._confirmed = 0.0
        self._refused = False     # a write was refused (or abandoned) while leading: wake writers on renewal
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        metrics.LEADER.set(1 if self.leader else 0)

    def fence(self) -> str:
        """The node every ZooKeeper write of the leader checks: ours, while we lead."""
        node = self.node
        if node is None or not self.leader:
            raise NotLeader("this replica holds no election node" if node is None else "this replica is a standby")
        return node

    async def write(self, op: str, *args, **kwargs):
        """One ZooKeeper write (kazoo's create, set_data or delete arguments) in a transaction
        that checks our election node first, so that nothing is written once the leadership
        (the session holding that node) is gone."""
        fence = self.fence()
        transaction = self.client.transaction()
        transaction.check(fence, -1)
        getattr(transaction, op)(*args, **kwargs)
        check, result = await zk_call(transaction.commit_async())
        if isinstance(check, Exception) and not isinstance(check, RolledBackError):
            raise NotLeader(fence)
        if isinstance(result, Exception):
            raise result
        return result

    def write_lease(self) -> float:
        """Seconds this replica may still write to Kubernetes (0: not at all)."""
        if not self.enabled:
            return float("inf")
        if not self.leader:
            return 0.0
        lease = max(0.0, self._confirmed + self.session_timeout / 2 - now())
        if lease == 0:
            self._refused = True
        return lease

    def write_abandoned(self) -> None:
        """A write outlived its lease (KubeApi gave up on it): redo it after the next confirmation."""
        self._refused = True

    def may_write(self) -> bool:
        return self.write_lease() > 0

    # --- kazoo's thread ---

    def _on_state(self, state: str) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._state_changed, state)

    def _fired(self, _event) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._changed.set)

    def _state_changed(self, state: str) -> None:
        if state == KazooState.LOST:
            self.node = None          # gone with the session
            self._lose("the ZooKeeper session expired")
        self._changed.set()

    # --- the election ---

    async def run(self) -> None:
        if not self.enabled:
            return
        self._loop = asyncio.get_running_loop()
        self.client.add_listener(self._on_state)
        confirming = asyncio.create_task(self._confirm_periodically())
        try:
            while True:
                self._changed.clear()
                try:
                    if self.client.connected:
                        await self._contend()
                except (KazooException, OSError) as error:
                    log.info("election: %s; trying again", type(error).__name__)
                if not self._changed.is_set():
                    try:   # watches and the session listener wake us; the timeout is a safety net
                        await asyncio.wait_for(self._changed.wait(), self.session_timeout)
                    except asyncio.TimeoutError:
                        pass
        finally:
            confirming.cancel()
            self.client.remove_listener(self._on_state)

    async def _contend(self) -> None:
        if self.node is None:
            await asyncio.to_thread(self.client.ensure_path, self.path)
            await self._retire_predecessor()
            self.node = await zk_call(self.client.create_async(
                f"{self.path}/{PREFIX}", self.name.encode(), ephemeral=True, sequence=True))
            log.info("election: standing as %s", self.node.rsplit("/", 1)[-1])
        children = sorted(c for c in await zk_call(self.client.get_children_async(self.path))
                          if c.startswith(PREFIX))
        mine = self.node.rsplit("/", 1)[-1]
        if mine not in children:
            self.node = None
            self._lose("its election node is gone")
            self._changed.set()
            return
        position = children.index(mine)
        if position == 0:
            if await self._confirm():
                self._gain()
            return
        below = f"{self.path}/{children[position - 1]}"
        if await zk_call(self.client.exists_async(below, watch=self._fired)) is None:
            self._changed.set()        # gone already: look again
            return
        if self.leader:
            self._lose("a lower election node exists")
        holder = await self._holder(below)
        log.info("election: standby; the leader or the next in line is %s", holder)

    async def _retire_predecessor(self) -> None:
        """Before standing, remove every node under our own name. Under another session it is
        this replica's previous life (a container restarted in its Pod, which keeps the Pod's
        name): its process is gone, so its node goes now instead of holding the leadership
        until its session times out. Under our own session it is an orphan of a create whose
        reply was lost with the connection: left, it could lead with nobody behind it. This is
        why instance names must be unique among replicas (the Pod name is)."""
        session = self.client.client_id[0] if self.client.client_id else None
        for child in await zk_call(self.client.get_children_async(self.path)):
            if not child.startswith(PREFIX):
                continue
            try:
                data, stat = await zk_call(self.client.get_async(f"{self.path}/{child}"))
            except NoNodeError:
                continue
            if data.decode(errors="replace") == self.name:
                log.info("election: %s is %s (session 0x%x); removing it", child,
                         "an orphan of a lost reply" if stat.ephemeralOwner == session
                         else "this replica's previous life", stat.ephemeralOwner)
                with contextlib.suppress(NoNodeError):
                    await zk_call(self.client.delete_async(f"{self.path}/{child}", stat.version))

    async def _holder(self, path: str) -> str:
        try:
            data, _ = await zk_call(self.client.get_async(path))
            return data.decode(errors="replace")
        except NoNodeError:
            return "gone"

    async def _confirm(self) -> bool:
        """Our node is still there and held by our current session."""
        node = self.node
        if node is None:
            return False
        started = now()
        try:
            stat = await zk_call(self.client.exists_async(node))
        except KazooException:
            return False
        session = self.client.client_id[0] if self.client.client_id else None
        if stat is None or stat.ephemeralOwner != session:
            if self.node == node:
                self.node = None
            self._lose("its election node is no longer held by this session")
            self._changed.set()
            return False
        self._confirmed = started
        if self._refused and self.leader:     # writers skipped while the lease had lapsed
            self._refused = False
            log.info("election: %s's leadership is confirmed again; writing", self.name)
            for callback in self.on_renewed:
                callback()
        return True

    async def _confirm_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.session_timeout / 6)
            if self.leader:
                await self._confirm()

    def _gain(self) -> None:
        if self.leader:
            return
        self.leader = True
        self._refused = False
        metrics.LEADER.set(1)
        log.info("election: %s is the leader now; writing", self.name)
        for callback in self.on_gain:
            callback()

    def _lose(self, why: str) -> None:
        if not self.leader:
            return
        self.leader = False
        metrics.LEADER.set(0)
        log.warning("election: %s is no longer the leader (%s); not writing", self.name, why)
