"""Pod Ready -> a real ASAB client's locate() finds it, against the same client finding a bare
kazoo write of the same record (under other ids), in the same run.

The ASAB peer (tests/peers/asab_peer.py) polls locate() every millisecond and says when it
first saw the ids; the clock is the same machine's.
"""
from __future__ import annotations

import concurrent.futures
import json
import time
import uuid

from common import harness, summary, timing

SERVICE = "discovery.asab/service-id"


def seen_at(peer, **ids) -> float:
    query = "&".join(f"{k}={v}" for k, v in ids.items())
    status, body = harness.http_json(f"http://127.0.0.1:{peer.port}/peer/wait?{query}&timeout=15", timeout=20)
    assert status == 200, body
    return body["seen_at"]


def run(env, peer, samples: int = 30) -> dict:
    zk = env.zk()
    writer = env.zk()
    namespace = env.namespace("bench-locate")
    tag = uuid.uuid4().hex[:6]
    operator_times, bare_times = [], []
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        for i in range(samples):
            service = f"lat-{tag}-{i}"
            env.create_pod(namespace, f"p-{i}", {SERVICE: service})
            waiting = pool.submit(seen_at, peer, service_id=service)
            time.sleep(0.5)   # the client is polling, and done with the rescan of the previous change
            started = time.time()
            env.set_ready(namespace, f"p-{i}", f"127.0.9.{i % 250 + 2}")
            operator_times.append(waiting.result() - started)

            node = next(n for n in zk.get_children("/asab/run") if n.endswith(f"~{namespace}~p-{i}"))
            record = json.loads(zk.get(f"/asab/run/{node}")[0])
            record.update(service_id=f"bare-{service}", instance_id=f"bare-{service}")
            waiting = pool.submit(seen_at, peer, service_id=f"bare-{service}")
            time.sleep(0.5)
            started = time.time()
            path = writer.create(f"/asab/run/bench-bare-{tag}-{i}", json.dumps(record).encode(), ephemeral=True)
            bare_times.append(waiting.result() - started)
            writer.delete(path)
    finally:
        pool.shutdown()
        env.clean_namespace(namespace)
        for client in (zk, writer):
            client.stop()
            client.close()
    return {"operator": operator_times, "bare": bare_times}


def report(result: dict) -> list[str]:
    op_p95, bare_p95 = summary(result["operator"])[1], summary(result["bare"])[1]
    return [
        f"Pod Ready -> a real ASAB client's locate() ({len(result['operator'])} Pods)",
        timing("operator (status patch -> located):", result["operator"]),
        timing("bare kazoo write -> located:", result["bare"]),
        f"  p95 difference: {(op_p95 - bare_p95) * 1000:.1f} ms   (target: <= 50 ms)",
    ]
