"""Pod Ready -> its node in ZooKeeper, against a bare kazoo create of the same record.

Both are timed the same way: from the call that starts them (the Pod status patch,
or kazoo's create) to a watching ZooKeeper client seeing the node. Same run, same
machine, same ZooKeeper.
"""
from __future__ import annotations

import time

from common import appearance_watch, harness, summary, timing

SERVICE = "discovery.asab/service-id"


def run(env, operator, pods: int = 60) -> dict:
    zk, writer = env.zk(), env.zk()
    namespace = env.namespace("bench-ready")
    identity_tag = None
    operator_times, bare_times, patch_times = [], [], []
    try:
        for i in range(pods):
            env.create_pod(namespace, f"p-{i}", {SERVICE: "bench-ready"})
        time.sleep(1)
        for i in range(pods):
            name = f"p-{i}"
            if identity_tag is None:
                env.set_ready(namespace, name, "127.0.9.1")
                node = harness.eventually(
                    lambda: next((n for n in zk.get_children("/asab/run") if n.endswith(f"~{namespace}~{name}")), None),
                    10, what="the first node")
                identity_tag = node.split("~")[1]
                continue
            path = f"/asab/run/k8s~{identity_tag}~pod~{namespace}~{name}"
            seen = appearance_watch(zk, path)
            started = time.perf_counter()
            env.set_ready(namespace, name, f"127.0.9.{i % 250 + 2}")
            patch_times.append(time.perf_counter() - started)
            assert seen.wait(10), f"{path} never appeared"
            operator_times.append(seen.at - started)
            data, _ = zk.get(path)

            # The baseline: a bare kazoo create of the very same bytes.
            bare = f"/bench/run/{name}"
            zk.ensure_path("/bench/run")
            seen = appearance_watch(zk, bare)
            started = time.perf_counter()
            writer.create(bare, data, ephemeral=True)
            assert seen.wait(10)
            bare_times.append(seen.at - started)
            writer.delete(bare)
    finally:
        env.clean_namespace(namespace)
        for client in (zk, writer):
            client.stop()
            client.close()
    return {"operator": operator_times, "bare": bare_times, "patch": patch_times}


def report(result: dict) -> list[str]:
    op_p95, bare_p95 = summary(result["operator"])[1], summary(result["bare"])[1]
    return [
        f"Pod Ready -> ZooKeeper node ({len(result['operator'])} Pods)",
        timing("operator (status patch -> node seen):", result["operator"]),
        timing("bare kazoo create (create -> seen):", result["bare"]),
        timing("of it, the status patch's API round trip:", result["patch"]),
        f"  ratio p95 operator / bare: {op_p95 / bare_p95:.1f}x   (target: <= 3x)",
    ]
