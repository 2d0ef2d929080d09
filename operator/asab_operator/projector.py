"""Projection at work: ASAB instances in ZooKeeper (RunTree) in, headless Services and
EndpointSlices out, one worker doing every write so that nothing races.

Safety: nothing is written before /run has been read completely under the current
session, nothing is written while ZooKeeper is unreachable, and an object no longer
wanted is deleted only after the grace period under a healthy session (EndpointSlices
are emptied at once; the period starts again after an outage or a change of leader).
Only objects that carry our ownership labels are changed. A write the API server
refuses for good (no permission there, no such namespace, invalid) blocks that one
name until the next full reconcile and is reported in its Projection's status; the
other objects go on.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Callable, Mapping

import kubernetes

from . import metrics
from . import projection_objects as po
from .annotations import Problem
from .kube import COLLECTIONS, KubeApi, object_path
from .leadership import NotLeader
from .projection import address_type, project
from .reporting import Reporter
from .sources.run_tree import RunTree

log = logging.getLogger(__name__)
RESOLVE_TIMEOUT = 3.0
LISTED_MAX = 100


class Projector:
    def __init__(self, kube: KubeApi, tree: RunTree, own_cluster: str, reporter: Reporter,
                 grace_period: float = 60.0, reconcile_period: float = 60.0,
                 namespaces: tuple[str, ...] = (), may_write: Callable[[], bool] = lambda: True) -> None:
        self.kube, self.tree, self.own_cluster, self.reporter = kube, tree, own_cluster, reporter
        self.grace_period, self.reconcile_period = grace_period, reconcile_period
        self.namespaces = frozenset(namespaces)
        self.may_write = may_write
        tree.on_change = self.request
        self.specs: dict[tuple[str, str], po.ProjectionSpec] = {}
        self.frozen: dict[tuple[str, str], str] = {}     # invalid Projections (key -> uid): left as they were
        self.gone: set[str] = set()                       # uids of deleted Projections whose objects remain
        self.actual: dict[po.Key, dict] = {}              # our objects in the cluster
        # names we cannot write, and why: taken by an object that is not ours, or refused by
        # the API server; cleared by every full reconcile (which tries them again)
        self.blocked: dict[po.Key, str] = {}
        self._blocks = 0              # names blocked so far (a pass that blocks one redoes its statuses)
        self.unwanted_since: dict[po.Key, float] = {}
        self._interrupted = False     # passes were skipped (outage, standby): grace periods restart
        self.resolved: dict[str, tuple[str, ...]] = {}
        self.statuses: dict[tuple[str, str], dict] = {}   # as last written
        self._generations: dict[tuple[str, str], int | None] = {}
        self.listed = False
        self._status_writes: set[asyncio.Task] = set()
        self._refresh_requested = True
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None

    # --- inputs ---

    def request(self) -> None:
        self._wake.set()

    def writing_again(self) -> None:
        """Leading (again): read the whole picture before writing, the old leader wrote meanwhile."""
        self._refresh_requested = True
        self._interrupted = True
        self.request()

    def in_scope(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    def projection_changed(self, body: Mapping) -> None:
        metadata = body.get("metadata") or {}
        key = (metadata.get("namespace", ""), metadata.get("name", ""))
        if metadata.get("uid") in self.gone or not self.in_scope(key[0]):
            return
        spec, problems = po.read_spec(body)
        self._generations[key] = metadata.get("generation")
        self.reporter.problems(body, ("Projection", *key), [Problem(*p.split(": ", 1)) for p in problems],
                               reason="InvalidProjection", verdict="not projected (what it made is kept)")
        if spec is None:
            self.specs.pop(key, None)
            self.frozen[key] = metadata.get("uid", "")
            self._write_status_soon(key, {"observedGeneration": metadata.get("generation"),
                                          "conditions": [condition("False", "InvalidSpec", "; ".join(problems))]})
        else:
            self.frozen.pop(key, None)
            self.specs[key] = spec
        self.request()

    def projection_deleted(self, namespace: str, name: str, uid: str | None) -> None:
        key = (namespace, name)
        spec = self.specs.pop(key, None)
        uid = uid or (spec.uid if spec else self.frozen.get(key))
        self.frozen.pop(key, None)
        self.statuses.pop(key, None)
        self._generations.pop(key, None)
        self.reporter.forget(("Projection", namespace, name))
        if uid:
            self.gone.add(uid)
        self.request()

    def object_changed(self, kind: str, body: Mapping, deleted: bool) -> None:
        """A Service or EndpointSlice event from the watches."""
        metadata = body.get("metadata") or {}
        key = (kind, metadata.get("namespace", ""), metadata.get("name", ""))
        if not self._ours(body):
            if deleted and self.blocked.pop(key, None) is not None:
                self.request()   # the name is free now
            elif not deleted and self.actual.pop(key, None) is not None:
                self.request()   # our labels were taken off: not ours any more
            return
        current = self.actual.get(key)
        if deleted:
            if current is not None and current["metadata"].get("uid") == metadata.get("uid"):
                del self.actual[key]
                self.request()
            return
        if current is not None and not newer(metadata, current["metadata"]):
            return
        self.actual[key] = trimmed(body)
        self.request()

    # --- the worker ---

    async def run(self) -> None:
        tree = asyncio.create_task(self.tree.run(), name="ZooKeeper /run reader")
        periodic = asyncio.create_task(self._periodic())
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await asyncio.sleep(0.005)   # let a burst of changes land in one pass
                self._wake.clear()
                try:
                    if self._refresh_requested:
                        await self._refresh()
                    await self._sync()
                except NotLeader as error:
                    log.info("projection pass stopped: %s", error)   # writing_again() resumes it
                except Exception as error:
                    metrics.ERRORS.labels(kind="projection").inc()
                    log.error("projection pass failed (%s: %s); again in 2 s", type(error).__name__, error,
                              exc_info=not isinstance(error, kubernetes.client.ApiException))
                    self._wake_in(2)
        finally:
            for task in (tree, periodic):
                task.cancel()

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_period)
            self._refresh_requested = True
            self.request()

    def _wake_in(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self.request)

    async def _refresh(self) -> None:
        """The full picture, again: Projections, our objects, the names others took, DNS."""
        for projection in await self._list("Projection", None):
            metadata = projection["metadata"]
            key = (metadata["namespace"], metadata["name"])
            if projection.get("status"):    # as written before (by us, or a leader before us)
                self.statuses.setdefault(key, projection["status"])
            if key not in self.specs or key in self.frozen:   # frozen: its status may still be unwritten
                self.projection_changed(projection)
        actual = {}
        for kind in ("Service", "EndpointSlice"):
            for body in await self._list(kind, f"{po.MANAGED_BY[0]}={po.MANAGED_BY[1]},{po.PROJECTION_UID}"):
                metadata = body["metadata"]
                if self.in_scope(metadata["labels"].get(po.PROJECTION_NAMESPACE, "")):
                    actual[(kind, metadata["namespace"], metadata["name"])] = trimmed(body)
        self.actual = actual
        known = {s.uid for s in self.specs.values()} | set(self.frozen.values())
        for body in actual.values():
            uid = po.owned(body)
            if uid not in known and uid not in self.gone and await self._projection_gone(body, uid):
                log.info("Projection %s is gone; removing what it made",
                         body["metadata"]["annotations"].get(po.PROJECTION_ANNOTATION, uid))
                self.gone.add(uid)
        self.blocked.clear()
        hosts = {i.host for i in self.tree.instances.values() if not address_type(i.host)}
        self.resolved = dict(zip(hosts, await asyncio.gather(*(resolve(h) for h in hosts))))
        self.listed = True
        self._refresh_requested = False

    async def _list(self, kind: str, selector: str | None) -> list[dict]:
        if kind == "Projection":
            try:
                return await self._list_in_scope(kind, selector)
            except kubernetes.client.ApiException as error:
                if error.status == 404:
                    return []   # the CRD is not installed: there are none
                raise
        return await self.kube.list_all(kind, None, selector)

    async def _list_in_scope(self, kind: str, selector: str | None) -> list[dict]:
        if not self.namespaces:
            return await self.kube.list_all(kind, None, selector)
        items = []
        for namespace in sorted(self.namespaces):
            items += await self.kube.list_all(kind, namespace, selector)
        return items

    async def _projection_gone(self, body: Mapping, uid: str) -> bool:
        namespace, _, name = body["metadata"]["annotations"].get(po.PROJECTION_ANNOTATION, "/").partition("/")
        if not namespace or not name:
            return True
        current = await self.kube.get(object_path("Projection", namespace, name))
        return current is None or current["metadata"]["uid"] != uid

    async def _sync(self) -> None:
        if not (self.listed and self.tree.synced and self.tree.healthy and self.may_write()):
            self._interrupted = True
            return   # frozen: no partial truth is ever written
        hosts = {i.host for i in self.tree.instances.values() if not address_type(i.host)} - set(self.resolved)
        if hosts:
            self.resolved.update(zip(hosts, await asyncio.gather(*(resolve(h) for h in hosts))))
        now = time.monotonic()
        if self._interrupted:   # the grace period counts healthy time under this leader only
            self._interrupted = False
            self.unwanted_since = dict.fromkeys(self.unwanted_since, now)
        desired, outcomes = self._desired()
        frozen_uids = set(self.frozen.values())
        actual = {k: v for k, v in self.actual.items() if po.owned(v) not in frozen_uids}
        writes = po.plan(desired, actual, self.unwanted_since, now, self.grace_period, may_delete=True,
                         gone_projections=self.gone)
        blocks_before = self._blocks
        apply = [(k, b) for k, b in writes.apply if k not in self.blocked]
        services = [(k, b) for k, b in apply if k[0] == "Service"]
        failures = await gather([self._apply(k, b) for k, b in services])
        held = self.blocked.keys() | {k for (k, _), failure in zip(services, failures) if failure is not None}
        failures += await gather([self._apply(k, b) for k, b in apply
                                  if k[0] != "Service" and service_of(k, b) not in held])
        failures += await gather([self._delete(k, uid) for k, uid in writes.delete if k not in self.blocked])
        self.gone &= {po.owned(b) for b in self.actual.values()}
        metrics.PROJECTED_SERVICES.set(sum(1 for k in desired if k[0] == "Service"))
        if self._blocks != blocks_before:   # refused just now: in the statuses at once
            desired, outcomes = self._desired()
        await self._write_statuses(outcomes)
        if self.unwanted_since:
            self._wake_in(max(0.1, min(self.unwanted_since.values()) + self.grace_period - now))
        if failure := next((f for f in failures if f is not None), None):
            raise failure

    def _desired(self) -> tuple[dict[po.Key, dict], dict]:
        instances = list(self.tree.instances.values())
        desired: dict[po.Key, dict] = {}
        claimed: dict[po.Key, po.ProjectionSpec] = {}
        outcomes = {}
        for spec in sorted(self.specs.values(), key=lambda s: (s.created, s.uid)):
            services, skipped = project(instances, spec.selection, spec.template, self.own_cluster, self.resolved)
            projected = []
            for service in services:
                key = ("Service", spec.target, service.name)
                if key in claimed:
                    other = claimed[key]
                    skipped.append(f"{service.id_type} {service.id!r}: its Service {spec.target}/{service.name} "
                                   f"belongs to Projection {other.namespace}/{other.name}")
                    continue
                if key in self.blocked:
                    skipped.append(f"{service.id_type} {service.id!r}: {self.blocked[key]}")
                    if po.owned(self.actual.get(key) or {}) != spec.uid:
                        continue
                    # this Projection's, and its update refused: kept wanted, its slices current
                claimed[key] = spec
                rendered = po.render(spec, service)
                desired.update(rendered)
                projected.append(service)
                skipped += [f"{service.id_type} {service.id!r}: {self.blocked[k]}" for k, _ in rendered[1:]
                            if k in self.blocked]
            outcomes[spec.key] = (spec, projected, skipped)
        return desired, outcomes

    async def _apply(self, key: po.Key, body: dict) -> None:
        kind, namespace, name = key
        current = self.actual.get(key)
        path = object_path(kind, namespace, name)
        if current is not None and po.owned(current) in set(self.frozen.values()):
            self._block(key, f"{kind} {namespace}/{name} belongs to Projection "
                             f"{current['metadata']['annotations'].get(po.PROJECTION_ANNOTATION)}, which is "
                             "invalid: what it made is kept as it was")
            return
        try:
            if current is None:
                result = await self.kube.create(COLLECTIONS[kind].format(ns=f"/namespaces/{namespace}"), body)
                op = "create"
            else:
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                result = await self.kube.replace(path, body)
                op = "update"
        except kubernetes.client.ApiException as error:
            if error.status == 409 and current is None:
                await self._already_exists(key, path)
            elif error.status == 404 and current is None:
                self._block(key, f"namespace {namespace} does not exist")
            elif error.status in (404, 409):      # deleted, or changed since we read it: read again
                fetched = await self.kube.get(path)
                self._remember(key, fetched if fetched is not None and self._ours(fetched) else None)
                self._wake_in(0.1)
            elif error.status in (403, 422):
                self._block(key, refusal(kind, namespace, name, error))
            else:
                raise
            return
        metrics.KUBERNETES_WRITES.labels(kind=kind, op=op).inc()
        self._remember(key, result)

    async def _already_exists(self, key: po.Key, path: str) -> None:
        fetched = await self.kube.get(path)
        if fetched is not None and self._ours(fetched):
            self._remember(key, fetched)   # ours after all (made before a restart): update it next pass
            self._wake_in(0.1)
            return
        kind, namespace, name = key
        self._block(key, f"{kind} {namespace}/{name} exists and is not the operator's; left alone",
                    "projection_name_taken")

    def _ours(self, body: Mapping) -> bool:
        """Made by a Projection in this operator's scope (another scope's operator owns the rest)."""
        return po.owned(body) is not None and self.in_scope(
            ((body.get("metadata") or {}).get("labels") or {}).get(po.PROJECTION_NAMESPACE, ""))

    def _block(self, key: po.Key, message: str, error_kind: str = "projection_refused") -> None:
        """This name is not written again until the next full reconcile; its Projection's
        status says why. A new reason is logged once."""
        if self.blocked.get(key) == message:
            return
        metrics.ERRORS.labels(kind=error_kind).inc()
        log.warning("projection: %s", message)
        self.blocked[key] = message
        self._blocks += 1

    def _remember(self, key: po.Key, body: Mapping | None) -> None:
        if body is None:
            self.actual.pop(key, None)
        else:
            self.actual[key] = trimmed(body)

    async def _delete(self, key: po.Key, uid: str) -> None:
        kind, namespace, name = key
        try:
            await self.kube.delete(object_path(kind, namespace, name), uid)
        except kubernetes.client.ApiException as error:
            if error.status != 403:
                raise
            self._block(key, refusal(kind, namespace, name, error))
            return
        metrics.KUBERNETES_WRITES.labels(kind=kind, op="delete").inc()
        log.info("deleted projected %s %s/%s", kind, namespace, name)
        self.actual.pop(key, None)
        self.unwanted_since.pop(key, None)

    async def _write_statuses(self, outcomes: dict) -> None:
        for key, (spec, projected, skipped) in outcomes.items():
            endpoints = {}
            for service in projected:
                endpoints[service.name] = sum(len(s.endpoints) for s in service.slices)
            status = {
                "observedGeneration": self._generations.get(key),
                "targetNamespace": spec.target,
                "projectedCount": len(projected),
                "skippedCount": len(skipped),
                "projected": [{"id": s.id, "service": s.name, "endpoints": endpoints[s.name]}
                              for s in projected[:LISTED_MAX]],
                "skipped": [dict(zip(("subject", "reason"), s.split(": ", 1))) for s in skipped[:LISTED_MAX]],
                "conditions": [condition("True", "SomeSkipped" if skipped else "Projected",
                                         f"{len(projected)} Services in {spec.target}"
                                         + (f"; {len(skipped)} skipped" if skipped else ""))],
            }
            await self._write_status(key, status)

    def _write_status_soon(self, key: tuple[str, str], status: dict) -> None:
        async def write() -> None:
            try:
                await self._write_status(key, status)
            except NotLeader:
                pass      # written by whichever replica leads next (from the Projection's spec)
            except Exception as error:
                log.warning("could not write the status of Projection %s/%s (%s); again on the next "
                            "reconcile", *key, error)
        task = asyncio.get_running_loop().create_task(write())
        self._status_writes.add(task)
        task.add_done_callback(self._status_writes.discard)

    async def _write_status(self, key: tuple[str, str], status: dict) -> None:
        if not self.may_write():
            return     # a standby: the new leader writes every status when it leads
        previous = self.statuses.get(key)
        if previous is not None and same_status(previous, status):
            return
        for old, new in zip((previous or {}).get("conditions", ()), status["conditions"]):
            if (old.get("status"), old.get("reason")) == (new["status"], new["reason"]):
                new["lastTransitionTime"] = old.get("lastTransitionTime", new["lastTransitionTime"])
        try:
            await self.kube.merge_patch(object_path("Projection", *key) + "/status", {"status": status})
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                log.warning("could not write the status of Projection %s/%s: %s", *key, error.reason)
            return
        metrics.KUBERNETES_WRITES.labels(kind="Projection", op="status").inc()
        self.statuses[key] = status


async def gather(writes: list) -> list[Exception | None]:
    """Every write goes ahead; each one's failure (None: none) is returned, in order (the
    pass is tried again after a failure)."""
    results = await asyncio.gather(*writes, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result      # cancellation
    return [r if isinstance(r, Exception) else None for r in results]


def service_of(key: po.Key, endpoint_slice: Mapping) -> po.Key:
    return "Service", key[1], endpoint_slice["metadata"]["labels"].get(po.SERVICE_NAME_LABEL)


def refusal(kind: str, namespace: str, name: str, error: kubernetes.client.ApiException) -> str:
    if error.status == 403:
        return (f"the operator may not write {kind}s in namespace {namespace} (bind its projection "
                f"role there: see the README, Installing in a cluster)")
    try:
        detail = json.loads(error.body).get("message", "")
    except (TypeError, ValueError, AttributeError):
        detail = str(error.body)
    return f"the API server rejected {kind} {namespace}/{name}: {detail}"[:500]


def condition(status: str, reason: str, message: str) -> dict:
    return {"type": "Ready", "status": status, "reason": reason, "message": message[:1024],
            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def same_status(a: dict, b: dict) -> bool:
    def strip(status):
        return {**status, "conditions": [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                                         for c in status.get("conditions", ())]}
    return strip(a) == strip(b)


def newer(candidate: Mapping, current: Mapping) -> bool:
    """Whether an event's object is newer than what we hold (resourceVersions are opaque,
    but etcd's are integers; when they are not, take the event)."""
    try:
        return int(candidate.get("resourceVersion", 0)) > int(current.get("resourceVersion", 0))
    except ValueError:
        return candidate.get("resourceVersion") != current.get("resourceVersion")


def trimmed(body: Mapping) -> dict:
    """What we keep of one of our objects: enough to compare, to update and to empty it."""
    metadata = body.get("metadata") or {}
    kept = {"kind": body.get("kind"), "metadata": {
        k: metadata.get(k) for k in ("name", "namespace", "uid", "resourceVersion", "ownerReferences")}}
    kept["metadata"]["labels"] = dict(metadata.get("labels") or {})
    kept["metadata"]["annotations"] = dict(metadata.get("annotations") or {})
    for field in ("spec", "addressType", "ports", "endpoints"):
        if field in body:
            kept[field] = body[field]
    return kept


async def resolve(host: str) -> tuple[str, ...]:
    """A host name's addresses (IPv4 and IPv6), or () when it does not resolve."""
    import socket
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM),
                                       RESOLVE_TIMEOUT)
    except (OSError, asyncio.TimeoutError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(info[4][0] for info in infos))
