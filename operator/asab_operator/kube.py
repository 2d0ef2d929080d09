"""The Kubernetes API calls the operator makes itself (kopf does the watching).

The official client is synchronous; every call runs in a thread, and answers are
read as raw JSON dicts, the same shape kopf hands to the handlers.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import logging
from typing import Callable

import kubernetes
import urllib3

from .leadership import NotLeader

log = logging.getLogger(__name__)

METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
PATHS = {
    "Pod": "/api/v1/namespaces/{namespace}/pods/{name}",
    "Service": "/api/v1/namespaces/{namespace}/services/{name}",
    "Advertisement": "/apis/discovery.asab/v1alpha1/namespaces/{namespace}/advertisements/{name}",
    "Projection": "/apis/discovery.asab/v1alpha1/namespaces/{namespace}/projections/{name}",
    "EndpointSlice": "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}",
}
COLLECTIONS = {
    "Service": "/api/v1{ns}/services",
    "EndpointSlice": "/apis/discovery.k8s.io/v1{ns}/endpointslices",
    "Projection": "/apis/discovery.asab/v1alpha1{ns}/projections",
}
FIELD_MANAGER = [("fieldManager", "asab-discovery-operator")]


def object_path(kind: str, namespace: str, name: str) -> str:
    return PATHS[kind].format(namespace=namespace, name=name)


def load_config() -> None:
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        try:
            kubernetes.config.load_kube_config()
        except (kubernetes.config.ConfigException, OSError) as error:
            raise SystemExit("error: no Kubernetes credentials: not running in a cluster, and no usable "
                             f"kubeconfig (set KUBECONFIG, or write ~/.kube/config): {error}")


class KubeApi:
    def __init__(self) -> None:
        load_config()
        self.client = kubernetes.client.ApiClient()
        writes = kubernetes.client.Configuration.get_default_copy()
        writes.retries = False          # sent once: a resend could land after the lease
        self.write_client = kubernetes.client.ApiClient(writes)
        # seconds this replica may still write (Leadership.write_lease); checked as each
        # write is sent, which may take no longer than that; write_abandoned() when it did
        self.write_lease: Callable[[], float] = lambda: float("inf")
        self.write_abandoned: Callable[[], None] = lambda: None

    def _call(self, method: str, path: str, query: list | None = None, body=None,
              content_type: str = "application/json", accept: str = "application/json"):
        client, timeout = self.client, None
        if method != "GET":
            client, lease = self.write_client, self.write_lease()
            if lease <= 0:
                raise NotLeader(f"not the leader: {method} {path} not sent")
            timeout = None if lease == float("inf") else lease
        request = client.param_serialize(
            method, path, query_params=query or [], body=body,
            header_params={"Accept": accept, "Content-Type": content_type},
            auth_settings=["BearerToken"])
        try:
            response = client.call_api(*request, _request_timeout=timeout)
        except urllib3.exceptions.TimeoutError:
            if timeout is None:
                raise
            self.write_abandoned()
            raise NotLeader(f"{method} {path}: no answer within the write lease ({timeout:.1f} s); "
                            "done again after the next confirmation") from None
        data = response.read()
        if not 200 <= response.status <= 299:
            raise kubernetes.client.ApiException.from_response(
                http_resp=response, body=data.decode(errors="replace"), data=None)
        return json.loads(data) if data else None

    async def call(self, method: str, path: str, **kwargs):
        return await asyncio.to_thread(self._call, method, path, **kwargs)

    async def cluster_id(self) -> str:
        """The default cluster identity: the UID of the kube-system namespace."""
        return (await self.call("GET", "/api/v1/namespaces/kube-system"))["metadata"]["uid"]

    async def exists(self, subject: tuple[str, str, str], uid: str | None) -> bool:
        kind, namespace, name = subject
        try:
            body = await self.call("GET", PATHS[kind].format(namespace=namespace, name=name))
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return False
            raise
        return uid is None or body["metadata"].get("uid") == uid

    async def endpoint_slices(self, namespace: str, service: str) -> list[dict]:
        """The EndpointSlices of one Service (label kubernetes.io/service-name)."""
        body = await self.call("GET", f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                               query=[("labelSelector", f"kubernetes.io/service-name={service}")])
        return body.get("items") or []

    async def pods(self, namespace: str, label_selector: str) -> list[dict]:
        body = await self.call("GET", f"/api/v1/namespaces/{namespace}/pods",
                               query=[("labelSelector", label_selector)])
        return body.get("items") or []

    async def patch_advertisement_status(self, namespace: str, name: str, status: dict) -> dict:
        """Merge-patch the status subresource; returns the status as stored."""
        path = PATHS["Advertisement"].format(namespace=namespace, name=name) + "/status"
        body = await self.call("PATCH", path, body={"status": status}, content_type="application/merge-patch+json")
        return body.get("status") or {}

    async def get(self, path: str) -> dict | None:
        """GET, with None for 404."""
        try:
            return await self.call("GET", path)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise

    async def create(self, path: str, body: dict) -> dict:
        return await self.call("POST", path, body=body, query=FIELD_MANAGER)

    async def merge_patch(self, path: str, patch: dict) -> dict:
        return await self.call("PATCH", path, body=patch, content_type="application/merge-patch+json")

    async def replace(self, path: str, body: dict) -> dict:
        return await self.call("PUT", path, body=body, query=FIELD_MANAGER)

    async def delete(self, path: str, uid: str | None = None) -> None:
        """DELETE, only if the object still has this uid; a missing one is fine."""
        body = {"preconditions": {"uid": uid}} if uid else None
        try:
            await self.call("DELETE", path, body=body)
        except kubernetes.client.ApiException as error:
            if error.status not in (404, 409):   # 409: the uid differs, someone else's object now
                raise

    async def list_all(self, kind: str, namespace: str | None = None, label_selector: str | None = None):
        """Every object of a kind (page by page), cluster-wide or in one namespace."""
        path = COLLECTIONS[kind].format(ns=f"/namespaces/{namespace}" if namespace else "")
        token, items = None, []
        while True:
            query = [("limit", "500")] + ([("labelSelector", label_selector)] if label_selector else [])
            query += [("continue", token)] if token else []
            page = await self.call("GET", path, query=query)
            items.extend(page.get("items") or ())
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    async def post_event(self, involved: dict, event_type: str, reason: str, message: str) -> None:
        """An Event about an object, as kopf posts them (for code that runs outside kopf's handlers)."""
        metadata = involved["metadata"]
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.create(f"/api/v1/namespaces/{metadata['namespace']}/events", {
            "metadata": {"generateName": "asab-operator-", "namespace": metadata["namespace"]},
            "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                               "namespace": metadata["namespace"], "name": metadata["name"],
                               "uid": metadata.get("uid")},
            "type": event_type, "reason": reason, "message": message[:1024],
            "source": {"component": "asab-operator"}, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        })

    async def first_listing(self, namespaces: tuple[str, ...], annotation: str) -> dict[str, set]:
        """The keys (namespace, name) of what the watches' first listing must deliver: Pods and
        Services carrying `annotation`, and every Advertisement. Only metadata is fetched, a
        page at a time, and only the keys are kept."""
        listed: dict[str, set] = {}
        collections = {"Pod": "/api/v1{ns}/pods", "Service": "/api/v1{ns}/services",
                       "Advertisement": "/apis/discovery.asab/v1alpha1{ns}/advertisements"}
        for kind, template in collections.items():
            keys = listed.setdefault(kind, set())
            for namespace in namespaces or (None,):
                path = template.format(ns=f"/namespaces/{namespace}" if namespace else "")
                token = None
                while True:
                    query = [("limit", "500")] + ([("continue", token)] if token else [])
                    try:
                        page = await self.call("GET", path, query=query, accept=METADATA_LIST)
                    except kubernetes.client.ApiException as error:
                        if error.status == 404 and kind == "Advertisement":
                            break   # the CRD is not installed: there are none
                        raise
                    for item in page.get("items") or ():
                        metadata = item["metadata"]
                        if kind == "Advertisement" or annotation in (metadata.get("annotations") or {}):
                            keys.add((metadata["namespace"], metadata["name"]))
                    token = (page.get("metadata") or {}).get("continue")
                    if not token:
                        break
        return listed
