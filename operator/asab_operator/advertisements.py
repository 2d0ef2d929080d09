"""The state kept for `Advertisement` resources: what each contributes, and its status.

Static resources contribute one record. Selector resources contribute one record
per matching Ready Pod: their Pods are listed from the API (server-side selector)
when the resource appears or changes, and followed through Pod events after that.
The status is written only when it changes, shortly after the change, so that a
steady state costs no Kubernetes writes.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from typing import Callable, Hashable, Mapping

from . import annotations as ann
from .kube import KubeApi
from .leadership import NotLeader
from .record import SEPARATOR, Identity, Owner
from .reporting import Reporter, object_reference
from .sinks.zookeeper import Advertiser
from .sources import advertisements as ads

log = logging.getLogger(__name__)
KIND = "Advertisement"
STATUS_DELAY = 0.05   # collects a burst of Pod changes into one status write
STATUS_RETRY = 5      # seconds before a failed status write is tried again


@dataclasses.dataclass
class Tracked:
    owner: Owner
    spec: ads.AdvertisementSpec | None = None
    problems: tuple[ann.Problem, ...] = ()
    generation: int = 0
    pods: set[str] = dataclasses.field(default_factory=set)    # Pods with a source of this resource
    listing: set[str] | None = None   # Pods that changed while its Pods were being listed
    status: dict | None = None                                  # as last read or written


class Advertisements:
    def __init__(self, identity: Identity, advertiser: Advertiser, reporter: Reporter, kube: KubeApi) -> None:
        self.identity, self.advertiser, self.reporter, self.kube = identity, advertiser, reporter, kube
        self.tracked: dict[tuple[str, str], Tracked] = {}
        self._selectors: dict[str, set[tuple[str, str]]] = {}      # namespace -> selector resources
        self._dirty: set[tuple[str, str]] = set()
        self._flusher: asyncio.Task | None = None
        self.may_write: Callable[[], bool] = lambda: True   # a standby keeps statuses for when it leads

    # --- sources ---

    @staticmethod
    def static_source(key) -> tuple:
        return (KIND, *key)

    @staticmethod
    def pod_source(key, pod: str) -> tuple:
        return (KIND, *key, pod)

    def _apply(self, source: Hashable, tracked: Tracked, adverts, problems) -> None:
        self.advertiser.update(source, adverts)
        self.reporter.problems(object_reference(tracked.owner), source, problems, reason="InvalidAdvertisement")

    def _withdraw(self, source: Hashable) -> None:
        self.advertiser.update(source, ())
        self.reporter.forget(source)

    # --- events ---

    async def on_event(self, body: Mapping, listing: bool) -> None:
        metadata = body["metadata"]
        key = (metadata["namespace"], metadata["name"])
        tracked = self.tracked.get(key)
        if tracked is None or tracked.owner.uid != metadata.get("uid"):
            tracked = self.tracked[key] = Tracked(Owner(KIND, key[0], key[1], metadata.get("uid", "")))
        tracked.status = body.get("status")
        generation = metadata.get("generation") or 0
        if generation == tracked.generation and not listing:
            return   # a status write of ours, or metadata: nothing to recompute
        tracked.generation = generation
        spec, problems = ads.parse_advertisement(body)
        tracked.spec, tracked.problems = spec, problems
        self._selectors.get(key[0], set()).discard(key)
        if spec is None or spec.host is not None:
            for pod in list(tracked.pods):
                self._withdraw(self.pod_source(key, pod))
            tracked.pods.clear()
        if spec is None:
            self.advertiser.update(self.static_source(key), ())   # the report stays: one Event per change
            self.reporter.problems(object_reference(tracked.owner), self.static_source(key), problems,
                                   reason="InvalidAdvertisement")
        elif spec.host is not None:
            outcome = ads.static_outcome(spec, self.identity)
            self._apply(self.static_source(key), tracked, outcome.adverts, ())
        else:
            self._withdraw(self.static_source(key))
            self._selectors.setdefault(key[0], set()).add(key)
            tracked.listing = set()
            try:
                pods = await self.kube.pods(key[0], spec.selector.query())
            finally:
                touched, tracked.listing = tracked.listing, None
            # Pods that changed during the list were handled by their own events, which are newer.
            listed = set()
            for pod in pods:
                listed.add(pod["metadata"]["name"])
                if pod["metadata"]["name"] not in touched:
                    self._apply_pod(key, tracked, pod)
            for gone in tracked.pods - listed - touched:
                tracked.pods.discard(gone)
                self._withdraw(self.pod_source(key, gone))
        self.status_changed(key)

    def _apply_pod(self, key, tracked: Tracked, pod: Mapping) -> None:
        name = pod["metadata"]["name"]
        outcome = ads.selected_pod_outcome(tracked.spec, pod, self.identity)
        problems = [ann.Problem(f"{p.field} (Pod {name})", p.reason) for p in outcome.problems]
        self._apply(self.pod_source(key, name), tracked, outcome.adverts, problems)
        tracked.pods.add(name)

    def on_pod(self, pod: Mapping, deleted: bool) -> None:
        """A Pod changed: update every selector resource of its namespace."""
        metadata = pod.get("metadata") or {}
        namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
        labels = metadata.get("labels") or {}
        for key in list(self._selectors.get(namespace, ())):
            tracked = self.tracked[key]
            if tracked.listing is not None:
                tracked.listing.add(name)
            if not deleted and tracked.spec.selector.matches(labels):
                self._apply_pod(key, tracked, pod)
                self.status_changed(key)
            elif name in tracked.pods:
                tracked.pods.discard(name)
                self._withdraw(self.pod_source(key, name))
                self.status_changed(key)

    def on_deleted(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        tracked = self.tracked.pop(key, None)
        self._selectors.get(namespace, set()).discard(key)
        self._withdraw(self.static_source(key))
        for pod in tracked.pods if tracked else ():
            self._withdraw(self.pod_source(key, pod))

    def withdraw(self, source: tuple) -> None:
        """A source found gone by the re-list audit (its resource, or its Pod)."""
        if len(source) == 3:
            self.on_deleted(source[1], source[2])
            return
        key = (source[1], source[2])
        self._withdraw(source)
        if key in self.tracked:
            self.tracked[key].pods.discard(source[3])
            self.status_changed(key)

    def nodes_changed(self, nodes) -> None:
        """Records changed in the desired state (a claim won or lost too): refresh those statuses."""
        marker = f"{SEPARATOR}{KIND.lower()}{SEPARATOR}"
        for node in nodes:
            if marker in node:
                namespace, name = node.split(marker, 1)[1].split(SEPARATOR)[:2]
                if (namespace, name) in self.tracked:
                    self.status_changed((namespace, name))

    # --- status ---

    def refresh_statuses(self) -> None:
        """Write every status that differs from what we last read (on becoming the leader)."""
        for key in self.tracked:
            self.status_changed(key)

    def status_changed(self, key) -> None:
        self._dirty.add(key)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="advertisement status")

    def desired_status(self, key) -> dict:
        tracked = self.tracked[key]
        sources = ([self.pod_source(key, pod) for pod in sorted(tracked.pods)]
                   if tracked.spec is not None and tracked.spec.selector is not None else [self.static_source(key)])
        advertised, problems = [], []
        for source in sources:
            for advert in self.advertiser.state.contribution(source).values():
                if self.advertiser.state.is_advertised(advert):
                    advertised.append(advert)
                elif (winner := self.advertiser.state.lost_to(advert.node)) is not None:
                    w = winner.owner
                    problems.append(f"instance_id {advert.instance_id!r} is kept by {w.kind} {w.namespace}/{w.name}")
            message = self.reporter.message(source)
            if message and len(source) == 4:
                problems.append(message)
        return ads.status(tracked.generation, tracked.problems, advertised, problems,
                          selector=tracked.spec is not None and tracked.spec.selector is not None)

    async def _flush(self) -> None:
        await asyncio.sleep(STATUS_DELAY)
        failed = set()
        while self._dirty:
            if not self.may_write():
                return      # refresh_statuses() writes them when this replica leads
            key = self._dirty.pop()
            if key not in self.tracked:
                continue
            try:
                await self._write_status(key)
            except NotLeader:
                self._dirty.add(key)
                return      # refresh_statuses() writes them when this replica leads again
            except Exception as error:
                log.warning("could not write the status of Advertisement %s/%s (%s: %s); again in %d s",
                            *key, type(error).__name__, error, STATUS_RETRY)
                failed.add(key)
        for key in failed:
            asyncio.get_running_loop().call_later(STATUS_RETRY, self.status_changed, key)

    async def _write_status(self, key) -> None:
        tracked = self.tracked[key]
        wanted = self.desired_status(key)
        current = tracked.status or {}
        old_ready = next((c for c in current.get("conditions") or () if c.get("type") == "Ready"), {})
        new_ready = wanted["conditions"][0]
        if old_ready.get("status") == new_ready["status"] and old_ready.get("lastTransitionTime"):
            new_ready["lastTransitionTime"] = old_ready["lastTransitionTime"]
        else:
            new_ready["lastTransitionTime"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if all(current.get(k) == v for k, v in wanted.items()):
            return
        tracked.status = await self.kube.patch_advertisement_status(key[0], key[1], wanted)
