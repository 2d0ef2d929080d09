"""A real ASAB application (PyPI `asab`) used as the peer in tests and the demo.

It joins discovery like any ASAB microservice (WebContainer + ZooKeeperContainer +
ApiService + DiscoveryService) and exposes two extra endpoints so that a test can
ask it what it discovers:

    GET /peer/locate?<id_type>=<id>   -> {"urls": [...]}    (DiscoveryService.locate)
    GET /peer/fetch?url=http://<id>.<id_type>.asab/path[&auth=internal]
                                      -> {"status": 200, "body": "..."}
                                         (a GET through DiscoveryService.session(),
                                          with internal auth when asked)

With --auth it also installs asab.web.auth.AuthService: every other endpoint then
requires authorization, such as GET /peer/protected, which internal auth tokens
(signed with the shared key in ZooKeeper) pass.

Usage: python asab_peer.py --zookeeper HOST:PORT[/chroot] --port PORT [--path asab] [--auth]
"""
import argparse
import asyncio
import sys
import time

import asab
import asab.api
import asab.web
import asab.web.auth
import asab.zookeeper
import aiohttp.web


class Peer(asab.Application):
    def __init__(self, auth: bool = False):
        super().__init__(args=[])
        self.add_module(asab.web.Module)
        self.WebContainer = asab.web.WebContainer(self.get_service("asab.WebService"), "web")
        self.add_module(asab.zookeeper.Module)
        self.ZooKeeperContainer = asab.zookeeper.ZooKeeperContainer(
            self.get_service("asab.ZooKeeperService"), "zookeeper")
        self.ApiService = asab.api.ApiService(self)
        self.ApiService.initialize_web(self.WebContainer)
        self.ApiService.initialize_zookeeper(self.ZooKeeperContainer)
        self.DiscoveryService = self.get_service("asab.DiscoveryService")
        if auth:   # after ApiService, as ASAB's docs ask; with one WebContainer it installs itself
            self.AuthService = asab.web.auth.AuthService(self)
        router = self.WebContainer.WebApp.router
        router.add_get("/peer/locate", self.locate)
        router.add_get("/peer/fetch", self.fetch)
        router.add_get("/peer/protected", self.protected)
        router.add_get("/peer/wait", self.wait)

    async def protected(self, request):
        return aiohttp.web.json_response({"authorized": True})

    @asab.web.auth.noauth
    async def locate(self, request):
        ids = dict(request.query)
        urls = await self.DiscoveryService.locate(**ids)
        return aiohttp.web.json_response({"urls": sorted(urls or ())})

    @asab.web.auth.noauth
    async def wait(self, request):
        """Poll locate() every millisecond until the ids resolve: when this client first saw them."""
        ids = {k: v for k, v in request.query.items() if k != "timeout"}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(request.query.get("timeout", "10"))
        while loop.time() < deadline:
            urls = await self.DiscoveryService.locate(**ids)
            if urls:
                return aiohttp.web.json_response({"seen_at": time.time(), "urls": sorted(urls)})
            await asyncio.sleep(0.001)
        return aiohttp.web.json_response({"seen_at": None}, status=504)

    @asab.web.auth.noauth
    async def fetch(self, request):
        url = request.query["url"]
        try:
            async with self.DiscoveryService.session(auth=request.query.get("auth") or None) as session:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                    return aiohttp.web.json_response(
                        {"status": response.status, "body": await response.text()})
        except Exception as error:  # reported to the test, which asserts on it
            return aiohttp.web.json_response(
                {"status": None, "error": f"{type(error).__name__}: {error}"}, status=502)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zookeeper", required=True)
    parser.add_argument("--path", default="asab")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--listen", default=None, help="[web] listen; default 127.0.0.1 <port>")
    parser.add_argument("--auth", action="store_true", help="require authorization (asab AuthService)")
    args = parser.parse_args()
    asab.Config.read_dict({
        "zookeeper": {"servers": args.zookeeper, "path": args.path},
        "web": {"listen": args.listen or f"127.0.0.1 {args.port}"},
    })
    Peer(auth=args.auth).run()


if __name__ == "__main__":
    sys.exit(main())
