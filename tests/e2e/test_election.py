"""The election and its fence, in process, against the real ZooKeeper: the edges the
two-process failover test cannot reach on purpose (a lost create reply, a lapsed
confirmation, a write after the node is gone)."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from kazoo.client import KazooClient

from asab_operator.leadership import Leadership, NotLeader

SESSION = 6.0


def client(env) -> KazooClient:
    c = KazooClient(hosts=env.zookeeper, timeout=SESSION)
    c.start(timeout=15)
    return c


async def until(check, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def path(zk):
    base = f"/election-test-{uuid.uuid4().hex[:8]}"
    yield f"{base}/election"
    zk.delete(base, recursive=True)


def test_an_orphan_of_a_lost_create_reply_is_removed_and_the_replica_leads(env, zk, path):
    """A create whose reply was lost leaves a node under our name in our own session; left, it
    would be the lowest node with nobody behind it."""
    c = client(env)
    try:
        c.ensure_path(path)
        orphan = c.create(f"{path}/candidate-", b"replica-a", ephemeral=True, sequence=True)
        leadership = Leadership(c, path, "replica-a", SESSION)

        async def scenario():
            task = asyncio.create_task(leadership.run())
            try:
                await until(lambda: leadership.leader, what="the leadership")
            finally:
                task.cancel()
        asyncio.run(scenario())
        assert zk.exists(orphan) is None, "the orphan is still there"
        assert leadership.node != orphan and zk.exists(leadership.node).ephemeralOwner == c.client_id[0]
        assert [n for n in zk.get_children(path)] == [leadership.node.rsplit("/", 1)[-1]]
    finally:
        c.stop()
        c.close()


def test_a_standby_and_a_leader_without_its_node_cannot_write(env, zk, path):
    a, b = client(env), client(env)
    try:
        first, second = Leadership(a, path, "replica-a", SESSION), Leadership(b, path, "replica-b", SESSION)

        async def scenario():
            tasks = [asyncio.create_task(first.run())]
            await until(lambda: first.leader, what="the first replica leading")
            tasks.append(asyncio.create_task(second.run()))
            await until(lambda: second.node is not None, what="the second replica standing")
            try:
                assert not second.may_write() and second.write_lease() == 0
                with pytest.raises(NotLeader):
                    await second.write("create", f"{path}-standby", b"x")
                await first.write("create", f"{path}-leader", b"x")
                # the leader's node gone (its session, as far as the fence knows): its next write fails
                zk.delete(first.node)
                with pytest.raises(NotLeader):
                    await first.write("create", f"{path}-after", b"x")
                await until(lambda: second.leader, what="the standby taking over")
                await second.write("create", f"{path}-new-leader", b"x")
            finally:
                for task in tasks:
                    task.cancel()
        asyncio.run(scenario())
        assert zk.exists(f"{path}-standby") is None and zk.exists(f"{path}-after") is None
        assert zk.exists(f"{path}-leader") and zk.exists(f"{path}-new-leader")
    finally:
        for c in (a, b):
            c.stop()
            c.close()
        for name in ("leader", "new-leader"):
            zk.delete(f"{path}-{name}")


def test_a_lapsed_confirmation_renewed_calls_the_writers_back(env, path):
    """A connection blip within the session lets the write lease lapse without losing the
    leadership; when it is confirmed again, the writers are woken (they skipped meanwhile)."""
    c = client(env)
    try:
        leadership = Leadership(c, path, "replica-a", SESSION)
        woken, gained = [], []
        leadership.on_gain.append(lambda: gained.append(leadership.may_write()))
        leadership.on_renewed.append(lambda: woken.append(leadership.may_write()))

        async def scenario():
            task = asyncio.create_task(leadership.run())
            try:
                await until(lambda: leadership.leader, what="the leadership")
                assert gained == [True] and woken == []
                leadership._confirmed -= SESSION     # as if no round trip had come back for a while
                assert leadership.leader and not leadership.may_write()
                await until(lambda: woken, SESSION, what="the writers called back")
                assert woken == [True] and gained == [True] and leadership.write_lease() > 0
                await asyncio.sleep(SESSION / 3)     # confirmations without a refusal meanwhile: quiet
                assert woken == [True]
            finally:
                task.cancel()
        asyncio.run(scenario())
    finally:
        c.stop()
        c.close()
