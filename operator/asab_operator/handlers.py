"""kopf handlers: thin. They turn a watch event into a call of the core and report problems.

On objects the operator does not own (Pods, Services, EndpointSlices) only
`@kopf.on.event` is used: kopf then never patches, annotates
or puts finalizers on them.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
from typing import Callable, Hashable

import kopf

from . import annotations as ann
from . import metrics
from .advertisements import Advertisements
from .freshness import RelistAudit, Subject, SyncGate
from .kube import KubeApi
from .projector import Projector
from .record import Identity, Owner
from .reporting import Reporter, object_reference
from .sinks.zookeeper import Advertiser
from .sources import pods, services

log = logging.getLogger(__name__)
REGISTRY = kopf.OperatorRegistry()


@dataclasses.dataclass
class Context:
    """What the handlers share, passed through kopf's memo."""
    identity: Identity
    advertiser: Advertiser
    kube: KubeApi
    cluster_domain: str = "cluster.local"
    projector: Projector | None = None
    may_write: Callable[[], bool] = lambda: True    # False on a standby replica: it keeps state, writes nothing
    reporter: Reporter = dataclasses.field(init=False)
    # Annotated Services: their facts, and the facts of their EndpointSlices by slice name.
    services: dict[Hashable, services.ServiceFacts] = dataclasses.field(default_factory=dict)
    slices: dict[Hashable, dict[str, services.SliceFacts]] = dataclasses.field(default_factory=dict)
    slice_service: dict[tuple[str, str], Hashable] = dataclasses.field(default_factory=dict)
    # Slices that changed while a Service's slices were being listed: the list is older than they.
    slices_touched: dict[Hashable, set[str]] = dataclasses.field(default_factory=dict)
    audit: RelistAudit = dataclasses.field(init=False)
    gate: SyncGate = dataclasses.field(init=False)
    advertisements: Advertisements = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.reporter = Reporter(self.kube.post_event, self.may_write)
        self.advertisements = Advertisements(self.identity, self.advertiser, self.reporter, self.kube)
        self.advertisements.may_write = self.may_write
        self.advertiser.on_change = self._changed
        self.audit = RelistAudit(
            sources=lambda: itertools.chain(self.advertiser.state.sources(), self.reporter.sources()),
            exists=self.kube.exists, withdraw=self.withdraw, uid_of=self.uid_of)
        self.gate = SyncGate(self._listing_handled)

    async def open_gate(self, namespaces: tuple[str, ...]) -> None:
        """List what the first listing must hold, then confirm the stragglers gone, until open."""
        while True:
            try:
                listed = await self.kube.first_listing(namespaces, ann.SERVICE_ID)
                break
            except Exception as error:
                log.warning("listing what the watches must deliver failed (%s); retrying in 5 s", error)
                await asyncio.sleep(5)
        self.gate.expect(listed)
        while not self.gate.open:
            await asyncio.sleep(5)
            for kind, key in self.gate.pending():
                with contextlib.suppress(Exception):   # checked again in 5 s
                    if not await self.kube.exists((kind, *key), None):
                        self.gate.handled(kind, key)

    async def pod_changed(self, event_type: str | None, pod: dict) -> None:
        """One Pod event from the Pod watch (event_type None: from a listing)."""
        source = source_of("Pod", pod)
        deleted = event_type == "DELETED"
        try:
            self.advertisements.on_pod(pod, deleted)
            if deleted:
                self.withdraw(source)
            else:
                outcome = pods.pod_outcome(pod, self.identity)
                self.apply(pod, source, outcome.adverts, outcome.problems)
        except Exception as error:
            unexpected(self, pod, source, error)
        finally:
            self.gate.handled("Pod", source[1:])

    def pods_listed(self, namespace: str | None, keys: set[tuple[str, str]]) -> None:
        """A Pod (re-)list is complete: what came before it and is not in it was deleted unseen."""
        for source in list(itertools.chain(self.advertiser.state.sources(), self.reporter.sources())):
            kind, ns = source[0], source[1]
            if namespace is not None and ns != namespace:
                continue
            if kind == "Pod" and (ns, source[2]) not in keys:
                log.info("Pod %s/%s is gone (not in the list); withdrawing", ns, source[2])
                self.withdraw(source)
            elif kind == "Advertisement" and len(source) == 4 and (ns, source[3]) not in keys:
                self.advertisements.withdraw(source)

    def _listing_handled(self) -> None:
        self.audit.armed = True
        self.advertiser.kubernetes_synced()

    def _changed(self, change) -> None:
        self.reporter.conflicts(change.conflicts)
        self.advertisements.nodes_changed(change.nodes)

    def apply(self, body, source: Hashable, adverts, problems) -> None:
        """One source's new contribution, and what is wrong with it."""
        self.advertiser.update(source, adverts)
        self.reporter.problems(body, source, problems)

    def withdraw(self, source: Hashable) -> None:
        if source[0] == "Advertisement":
            self.advertisements.withdraw(source)
            return
        self.advertiser.update(source, ())
        self.reporter.forget(source)
        self.services.pop(source, None)
        self.slices.pop(source, None)

    def uid_of(self, source: Hashable, subject: Subject) -> str | None:
        for advert in self.advertiser.state.contribution(source).values():
            if (advert.owner.kind, advert.owner.namespace, advert.owner.name) == subject:
                return advert.owner.uid
        return None

    async def list_slices(self, source: Hashable, facts) -> None:
        self.slices_touched[source] = set()
        try:
            listed = await self.kube.endpoint_slices(facts.namespace, facts.name)
        finally:
            touched = self.slices_touched.pop(source)
        slices = self.slices.setdefault(source, {})
        names = set()
        for endpoint_slice in listed:
            name = endpoint_slice["metadata"]["name"]
            names.add(name)
            if name not in touched:
                slices[name] = services.slice_facts(endpoint_slice)
                self.slice_service[(facts.namespace, name)] = source
        for gone in set(slices) - names - touched:   # deleted while no watch saw it
            slices.pop(gone)

    def slice_changed(self, namespace: str, name: str, source: Hashable | None, endpoint_slice) -> None:
        """An EndpointSlice changed (source None: deleted). It may have moved to another Service."""
        key = (namespace, name)
        previous = self.slice_service.pop(key, None)
        for listing in (previous, source):
            if listing in self.slices_touched:
                self.slices_touched[listing].add(name)
        if previous is not None and previous != source:
            if self.slices.get(previous, {}).pop(name, None) is not None and previous in self.services:
                self.apply_service(previous)
        if source is None or source not in self.services:
            if source is not None:
                self.slices.get(source, {}).pop(name, None)
            return
        self.slices.setdefault(source, {})[name] = services.slice_facts(endpoint_slice)
        self.slice_service[key] = source
        self.apply_service(source)

    def apply_service(self, source: Hashable) -> None:
        facts = self.services[source]
        outcome = services.service_outcome(facts, self.slices.get(source, {}).values(), self.identity,
                                           self.cluster_domain)
        body = object_reference(Owner("Service", facts.namespace, facts.name, facts.uid))
        self.apply(body, source, outcome.adverts, outcome.problems)


def source_of(kind: str, body) -> tuple[str, str, str]:
    metadata = body.get("metadata") or {}
    return (kind, metadata.get("namespace", ""), metadata.get("name", ""))


@kopf.on.login(registry=REGISTRY)
def login(**kwargs):
    return kopf.login_via_client(**kwargs)


def unexpected(context: Context, body, source: Hashable, error: Exception) -> None:
    """An input nobody foresaw (or a bug): the object's records may now be stale, so they are
    withdrawn; it is reported like bad input; every other object goes on as before."""
    log.error("%s %s/%s could not be processed: %s: %s", *source[:3], type(error).__name__, error, exc_info=True)
    metrics.ERRORS.labels(kind="handler").inc()
    if source[0] == "Advertisement":
        context.advertisements.on_deleted(source[1], source[2])   # the next event starts it afresh
    else:
        context.advertiser.update(source, ())       # not withdraw(): the report below stays, one Event
    context.reporter.problems(body, source, [ann.Problem(
        source[0], f"could not be processed ({type(error).__name__}); the operator's log has the details")])


@kopf.on.event("v1", "services", registry=REGISTRY)
async def service_event(event, memo, **_):
    context: Context = memo.context
    service = event["object"]
    source = source_of("Service", service)
    if context.projector is not None:
        context.projector.object_changed("Service", service, event.get("type") == "DELETED")
    try:
        facts = None if event.get("type") == "DELETED" else services.service_facts(service)
        if facts is None:
            if source in context.services or context.advertiser.state.contribution(source):
                context.withdraw(source)
            context.audit.forget(source)
            return
        listing = event.get("type") is None
        context.audit.seen(source, listing=listing)
        context.services[source] = facts
        if listing or source not in context.slices:
            # First sight, or a re-list after a broken watch: read its slices afresh.
            await context.list_slices(source, facts)
        context.apply_service(source)
    except Exception as error:
        unexpected(context, service, source, error)
    finally:
        context.gate.handled("Service", source[1:])


@kopf.on.event("discovery.k8s.io", "v1", "endpointslices", registry=REGISTRY)
async def endpoint_slice_event(event, memo, **_):
    context: Context = memo.context
    endpoint_slice = event["object"]
    if context.projector is not None:
        context.projector.object_changed("EndpointSlice", endpoint_slice, event.get("type") == "DELETED")
    metadata = endpoint_slice.get("metadata") or {}
    service_name = (metadata.get("labels") or {}).get(services.SERVICE_NAME_LABEL)
    namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
    source = ("Service", namespace, service_name) if service_name else None
    try:
        context.slice_changed(namespace, name, None if event.get("type") == "DELETED" else source,
                              endpoint_slice)
    except Exception as error:
        if source is not None:
            unexpected(context, endpoint_slice, source, error)


@kopf.on.event("discovery.asab", "v1alpha1", "advertisements", registry=REGISTRY)
async def advertisement_event(event, memo, **_):
    context: Context = memo.context
    body = event["object"]
    source = source_of("Advertisement", body)
    try:
        if event.get("type") == "DELETED":
            context.advertisements.on_deleted(source[1], source[2])
            context.audit.forget(source)
        else:
            context.audit.seen(source, listing=event.get("type") is None)
            await context.advertisements.on_event(body, listing=event.get("type") is None)
    except Exception as error:
        unexpected(context, body, source, error)
    finally:
        context.gate.handled("Advertisement", source[1:])


@kopf.on.event("discovery.asab", "v1alpha1", "projections", registry=REGISTRY)
async def projection_event(event, memo, **_):
    context: Context = memo.context
    body = event["object"]
    if context.projector is None:
        return
    metadata = body.get("metadata") or {}
    try:
        if event.get("type") == "DELETED":
            context.projector.projection_deleted(metadata.get("namespace", ""), metadata.get("name", ""),
                                                 metadata.get("uid"))
        else:
            context.projector.projection_changed(body)
    except Exception as error:
        log.error("Projection %s/%s could not be processed: %s", metadata.get("namespace"), metadata.get("name"),
                  error, exc_info=True)
        metrics.ERRORS.labels(kind="handler").inc()
