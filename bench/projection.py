"""Projection (ZooKeeper -> EndpointSlices), against bare Kubernetes writes of the same objects.

Incremental: a record created in ZooKeeper -> its address seen in an EndpointSlice by a
watching client; baseline: a bare create of an EndpointSlice with that address, seen the
same way. Cold: 1,000 records over 100 service ids already in ZooKeeper, the operator
started -> every endpoint seen; baseline: the same 100 Services and their slices created
bare (8 writers at once).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import kubernetes
from kazoo.client import KazooClient

from common import harness, ms, summary, timing

GROUP, VERSION = "discovery.asab", "v1alpha1"


class SliceWatch:
    """Every address seen in an EndpointSlice of a namespace, with when it was first seen."""

    def __init__(self, env, namespace: str) -> None:
        self.seen: dict[str, float] = {}
        self.api = kubernetes.client.DiscoveryV1Api(kubernetes.config.new_client_from_config(env.kubeconfig))
        self.watch = kubernetes.watch.Watch()
        self.namespace = namespace
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        time.sleep(0.5)

    def _run(self) -> None:
        try:
            for event in self.watch.stream(self.api.list_namespaced_endpoint_slice, self.namespace,
                                           timeout_seconds=600):
                now = time.perf_counter()
                for endpoint in event["object"].endpoints or ():
                    for address in endpoint.addresses:
                        self.seen.setdefault(address, now)
        except Exception:   # stop() closes the stream under it
            pass

    def wait(self, address: str, timeout: float = 15) -> float:
        deadline = time.monotonic() + timeout
        while address not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{address} never appeared in an EndpointSlice")
            time.sleep(0.001)
        return self.seen[address]

    def stop(self) -> None:
        self.watch.stop()


def record(host: str, service_id: str, instance: str) -> bytes:
    return json.dumps({"host": host, "appclass": "Bench", "instance_id": instance, "service_id": service_id,
                       "web": [["0.0.0.0", 8080]]}).encode()


def create_projection(env, namespace: str, pattern: str) -> None:
    kubernetes.client.CustomObjectsApi(env.api_client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "projections", {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Projection",
                                                    "metadata": {"name": "bench"}, "spec": {"patterns": [pattern]}})


def bare_slice(namespace: str, name: str, service: str, addresses: list[str]) -> dict:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}}, "addressType": "IPv4",
            "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses]}


def run(env, log_dir, incremental: int = 200, cold_records: int = 1000, cold_ids: int = 100) -> dict:
    chroot = f"/bench-projection-{uuid.uuid4().hex[:6]}"
    root = env.zk()
    root.ensure_path(f"{chroot}/asab/run")
    zk = KazooClient(hosts=env.zookeeper + chroot)
    zk.start(timeout=15)
    discovery = kubernetes.client.DiscoveryV1Api(env.api_client)
    result: dict = {}
    try:
        # --- cold start: records first, then the operator ---
        cold_ns = env.namespace("bench-cold")
        transaction = zk.transaction()
        for n in range(cold_records):
            transaction.create(f"/asab/run/cold-{n:04}", record(f"10.60.{n // 250}.{n % 250 + 1}",
                                                                 f"cold-{n % cold_ids}", f"cold-{n}"))
        transaction.commit()
        watch = SliceWatch(env, cold_ns)
        create_projection(env, cold_ns, "cold-*")
        operator = harness.Operator(env, log_dir, "--key-keeper", "off", zookeeper=env.zookeeper + chroot,
                                    name="bench-projector")
        started = time.perf_counter()
        try:
            for n in range(cold_records):
                watch.wait(f"10.60.{n // 250}.{n % 250 + 1}", 120)
            result["cold"] = max(watch.seen.values()) - started
        finally:
            watch.stop()
        operator.wait_ready()

        bare_ns = env.namespace("bench-bare")
        watch = SliceWatch(env, bare_ns)
        started = time.perf_counter()

        def bare_service(i: int) -> None:
            env.core.create_namespaced_service(bare_ns, {"metadata": {"name": f"cold-{i}"}, "spec": {
                "clusterIP": "None", "ports": [{"name": "web", "port": 8080}]}})
            addresses = [f"10.61.{n // 250}.{n % 250 + 1}" for n in range(i, cold_records, cold_ids)]
            discovery.create_namespaced_endpoint_slice(bare_ns, bare_slice(bare_ns, f"cold-{i}", f"cold-{i}",
                                                                           addresses))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(bare_service, range(cold_ids)))
        for n in range(cold_records):
            watch.wait(f"10.61.{n // 250}.{n % 250 + 1}", 60)
        result["cold_bare"] = max(watch.seen.values()) - started
        watch.stop()

        # --- incremental: one record at a time, the operator running ---
        inc_ns = env.namespace("bench-inc")
        watch = SliceWatch(env, inc_ns)
        create_projection(env, inc_ns, "inc-*")
        operator_times, bare_times = [], []
        for n in range(incremental):
            address = f"10.62.{n // 250}.{n % 250 + 1}"
            started = time.perf_counter()
            zk.create(f"/asab/run/inc-{n:04}", record(address, f"inc-{n % 20}", f"inc-{n}"), ephemeral=True)
            operator_times.append(watch.wait(address) - started)
            address = f"10.63.{n // 250}.{n % 250 + 1}"
            started = time.perf_counter()
            discovery.create_namespaced_endpoint_slice(inc_ns, bare_slice(inc_ns, f"bare-{n}", "bare", [address]))
            bare_times.append(watch.wait(address) - started)
        watch.stop()
        result.update(incremental=operator_times, incremental_bare=bare_times)
        operator.stop()
        for namespace in (cold_ns, bare_ns, inc_ns):
            env.clean_namespace(namespace)
    finally:
        zk.stop()
        zk.close()
        root.delete(chroot, recursive=True)
        root.stop()
        root.close()
    return result


def report(result: dict) -> list[str]:
    op_p95, bare_p95 = summary(result["incremental"])[1], summary(result["incremental_bare"])[1]
    return [
        f"Projection: a record in ZooKeeper -> its address in an EndpointSlice ({len(result['incremental'])} records)",
        timing("operator (create -> address seen):", result["incremental"]),
        timing("bare EndpointSlice create (-> seen):", result["incremental_bare"]),
        f"  ratio p95 operator / bare: {op_p95 / bare_p95:.1f}x   (target: p95 under 500 ms)",
        "Projection cold start: 1,000 records over 100 service ids",
        f"  operator (start -> every endpoint seen):   {ms(result['cold'])}",
        f"  bare (100 Services + slices, 8 writers):   {ms(result['cold_bare'])}",
        f"  ratio operator / bare: {result['cold'] / result['cold_bare']:.1f}x   (target: under 10 s)",
    ]
