"""List and watch Pods with constant memory.

kopf gives every object a worker and a queue; with 50,000 Pods the first listing
outruns the workers and nearly every Pod's body waits in memory at once. Pods are
therefore watched here: a paged list, then a watch from its resourceVersion, and
each event is handled before the next one is read, so at most one page of Pods
is ever held. After every (re-)list, objects that the list did not contain are
reported, because a watch that broke never says what was deleted meanwhile.
"""
from __future__ import annotations

import asyncio
import json
import logging
import ssl
from typing import Awaitable, Callable

import aiohttp
import kubernetes

log = logging.getLogger(__name__)
PAGE = 500

Handle = Callable[[str | None, dict], Awaitable[None]]      # (event type, None while listing; the Pod)
Listed = Callable[[str | None, set[tuple[str, str]]], None]  # (namespace or None: all; keys listed)


class Gone(Exception):
    """410: the resourceVersion is too old to watch from; list again."""


class PodStream:
    def __init__(self, namespace: str | None, handle: Handle, listed: Listed) -> None:
        self.namespace = namespace
        self.handle, self.listed = handle, listed
        self.configuration = kubernetes.client.Configuration.get_default_copy()

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods" if self.namespace else "/api/v1/pods"

    def _session(self) -> aiohttp.ClientSession:
        config = self.configuration
        context: ssl.SSLContext | bool = False
        if config.verify_ssl:
            context = ssl.create_default_context(cafile=config.ssl_ca_cert)
            if config.cert_file:
                context.load_cert_chain(config.cert_file, config.key_file)
        return aiohttp.ClientSession(base_url=config.host, connector=aiohttp.TCPConnector(ssl=context),
                                     timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=330),
                                     read_bufsize=2 ** 23)   # a watch line is a whole Pod: room for big ones

    def _headers(self) -> dict[str, str]:
        token = (self.configuration.auth_settings().get("BearerToken") or {}).get("value")
        return {"Authorization": token} if token else {}

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self._session() as session:
                    version = await self._list(session)
                    delay = 0.5
                    while True:
                        version = await self._watch(session, version)
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info("Pod watch expired (410); listing again")
            except Exception as error:
                log.warning("Pod watch broke (%s: %s); listing again in %.1f s", type(error).__name__, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _list(self, session: aiohttp.ClientSession) -> str:
        keys: set[tuple[str, str]] = set()
        token, version = None, ""
        while True:
            params = {"limit": str(PAGE)} | ({"continue": token} if token else {})
            async with session.get(self.path, params=params, headers=self._headers()) as response:
                if response.status == 410:
                    raise Gone()
                response.raise_for_status()
                page = await response.json()
            for pod in page.get("items") or ():
                keys.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))
                await self.handle(None, pod)
            metadata = page.get("metadata") or {}
            version = metadata.get("resourceVersion") or version
            token = metadata.get("continue")
            del page
            if not token:
                break
        self.listed(self.namespace, keys)
        return version

    async def _watch(self, session: aiohttp.ClientSession, version: str) -> str:
        """Handle events from `version` until the server ends the stream; the newest version."""
        params = {"watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": "290"}
        async with session.get(self.path, params=params, headers=self._headers()) as response:
            if response.status == 410:
                raise Gone()
            response.raise_for_status()
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, body = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if body.get("code") == 410:
                        raise Gone()
                    raise RuntimeError(f"watch error: {body.get('message')}")
                version = (body.get("metadata") or {}).get("resourceVersion") or version
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    await self.handle(kind, body)
        return version
