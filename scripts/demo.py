"""The main job on the local embedded default, end to end:

local control plane + ZooKeeper -> the operator -> sample annotated Pods made Ready ->
a real ASAB client (PyPI asab) locates them and reaches them through DiscoveryService.

Run it with `make demo`. Pass --keep to leave the operator, the ASAB peer and the
Pods running afterwards (stop them with Ctrl-C).
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import yaml
from tabulate import tabulate

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import harness  # noqa: E402
import localenv  # noqa: E402

NAMESPACE = "demo"


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    keep = parser.parse_args().keep

    step("local environment: etcd + kube-apiserver (built from the Go proxy) + ZooKeeper")
    localenv.up()
    env = harness.Environment()
    env.install_crds()
    log_dir = localenv.STATE / "demo"
    log_dir.mkdir(exist_ok=True)

    step("starting the operator (log: .localenv/demo/operator.log)")
    operator = harness.Operator(env, log_dir)
    operator.wait_ready()
    peer = None
    servers = []
    try:
        step(f"applying examples/demo-pods.yaml to namespace '{NAMESPACE}'")
        if NAMESPACE not in [n.metadata.name for n in env.core.list_namespace().items]:
            env.core.create_namespace({"metadata": {"name": NAMESPACE}})
        env.clean_namespace(NAMESPACE)
        eventually_empty(env)
        pods = list(yaml.safe_load_all((REPO / "examples" / "demo-pods.yaml").read_text()))
        addresses = harness.LoopbackAddresses(start=200)
        for pod in pods:
            env.core.create_namespaced_pod(NAMESPACE, pod)
            ip = addresses.take()
            # Each Pod's "container": a small HTTP server on its own loopback address.
            for container in pod["spec"]["containers"]:
                for port in container.get("ports", []):
                    servers.append(harness.LoopbackServer(
                        ip, port["containerPort"], f"hello from {pod['metadata']['name']}:{port['containerPort']}\n"))
            env.set_ready(NAMESPACE, pod["metadata"]["name"], ip)   # what a kubelet would report
            print(f"    {pod['metadata']['name']:10} Ready at {ip}")

        step("starting a real ASAB application (asab 25.15) on the same ZooKeeper")
        peer = harness.AsabPeer(env, log_dir)
        queries = [("service_id", "catalog"), ("service_id", "billing"), ("instance_id", "catalog-1"),
                   ("instance_id", "catalog-eu-2"), ("team", "blue"), ("service_id", "broken")]
        harness.eventually(lambda: len(peer.locate(service_id="catalog")) == 2, 30, 0.2,
                           "the ASAB client to see both catalog Pods")
        rows = []
        for id_type, value in queries:
            urls = peer.locate(**{id_type: value})
            reply = peer.fetch(f"http://{value}.{id_type}.asab/")
            reached = f"yes: {reply['body'].strip()}" if reply.get("status") == 200 else "no"
            rows.append((f"{value}.{id_type}.asab", "\n".join(urls) or "(not found)", reached))
        step("what the ASAB client discovers (DiscoveryService.locate) and reaches (DiscoveryService.session)")
        print(tabulate(rows, headers=["ASAB URL host", "located", "reached"], tablefmt="simple"))
        broken = env.core.read_namespaced_pod("broken-1", NAMESPACE).metadata.uid
        warnings = env.warnings(NAMESPACE, "broken-1", uid=broken)
        print("\nbroken-1 was not advertised; its Warning Event says:\n    " + ("\n    ".join(warnings) or "(none yet)"))
        reached = sum(1 for row in rows if row[2].startswith("yes"))
        print(f"\n{reached} of {len(rows)} lookups reached a Pod through the real ASAB client.")
        if keep:
            print("\nEverything keeps running; Ctrl-C stops the operator, the peer and the Pods.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if peer:
            peer.stop()
        operator.stop()
        env.clean_namespace(NAMESPACE)
        for server in servers:
            server.close()
    print("\nThe control plane and ZooKeeper stay up for the next run; `make down` stops them.")


def eventually_empty(env) -> None:
    harness.eventually(lambda: not env.core.list_namespaced_pod(NAMESPACE).items, 30, 0.1,
                       "the previous demo Pods to go")


if __name__ == "__main__":
    main()
