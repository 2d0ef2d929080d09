"""The real ASAB client (PyPI asab 25.15) finds annotated Pods and reaches them."""
from __future__ import annotations

import pytest

from harness import LoopbackServer, eventually, free_port

SERVICE = "discovery.asab/service-id"


@pytest.fixture
def pod_servers(addresses):
    servers = []

    def start(ip, port, text):
        servers.append(LoopbackServer(ip, port, text))

    yield start
    for server in servers:
        server.close()


def test_asab_client_locates_and_reaches_pods(env, operator, peer, ns, addresses, pod_servers):
    service = f"shop-{ns}"
    port = free_port()   # not a fixed one: another process may listen on 0.0.0.0:8080
    ips = {}
    for i, team in ((1, "blue"), (2, "red")):
        name = f"shop-{i}"
        ips[name] = addresses.take()
        pod_servers(ips[name], port, f"hello from {name}")
        env.create_pod(ns, name, {SERVICE: service, "discovery.asab/instance-id": f"{name}-{ns}",
                                  "discovery.asab/discovery": f'{{"team": ["{team}-{ns}"]}}'},
                       ports=[{"name": "http", "containerPort": port}])
        env.set_ready(ns, name, ips[name])

    expected = {f"http://{ip}:{port}" for ip in ips.values()}
    eventually(lambda: set(peer.locate(service_id=service)) == expected, 15, 0.2,
               "the ASAB client to locate both Pods by service_id")
    assert peer.locate(instance_id=f"shop-1-{ns}") == [f"http://{ips['shop-1']}:{port}"]
    assert peer.locate(team=f"red-{ns}") == [f"http://{ips['shop-2']}:{port}"]

    # DiscoveryService.session() resolves <id>.<id_type>.asab and reaches the Pod's server.
    reply = peer.fetch(f"http://shop-1-{ns}.instance_id.asab/hello")
    assert reply == {"status": 200, "body": "hello from shop-1"}, reply
    reply = peer.fetch(f"http://blue-{ns}.team.asab/")
    assert reply == {"status": 200, "body": "hello from shop-1"}, reply
    reply = peer.fetch(f"http://{service}.service_id.asab/")
    assert reply["status"] == 200 and reply["body"] in {"hello from shop-1", "hello from shop-2"}, reply

    # Withdrawal reaches the client too.
    env.set_ready(ns, "shop-2", ips["shop-2"], ready=False)
    eventually(lambda: peer.locate(service_id=service) == [f"http://{ips['shop-1']}:{port}"], 15, 0.2,
               "the ASAB client to drop the unready Pod")
    reply = peer.fetch(f"http://red-{ns}.team.asab/")
    assert reply["status"] is None and "NotDiscoveredError" in reply["error"], reply
