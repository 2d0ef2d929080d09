"""The HTTP endpoint for probes and Prometheus: /healthz, /readyz, /metrics."""
from __future__ import annotations

import json

import prometheus_client
from aiohttp import web


def application(readiness) -> web.Application:
    """`readiness()` returns (ready, {check: ok}, {more fields}) for /readyz."""
    async def healthz(_request):
        return web.Response(text="ok\n")

    async def readyz(_request):
        ready, checks, more = readiness()
        return web.Response(status=200 if ready else 503, content_type="application/json",
                            text=json.dumps({"ready": ready, **more, "checks": checks}) + "\n")

    async def metrics(_request):
        return web.Response(body=prometheus_client.generate_latest(),
                            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)])
    return app


async def serve(readiness, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(application(readiness), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
