"""kopf handlers: thin. They turn a watch event into a call of the core and report problems.

On objects the operator does not own (Pods) only `@kopf.on.event` and `@kopf.index`
are used: kopf then never patches, annotates or puts finalizers on them.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Hashable

import kopf

from . import annotations as ann
from . import metrics
from .record import Identity
from .sinks.zookeeper import Advertiser
from .sources import pods

log = logging.getLogger(__name__)
REGISTRY = kopf.OperatorRegistry()


@dataclasses.dataclass
class Context:
    """What the handlers share, passed through kopf's memo."""
    identity: Identity
    advertiser: Advertiser
    # The last problem reported per object: an Event is posted once per change, not per resync.
    reported: dict[Hashable, str] = dataclasses.field(default_factory=dict)

    def report(self, body, source: Hashable, problems: tuple[ann.Problem, ...]) -> None:
        if not problems:
            if self.reported.pop(source, None) is not None:
                log.info("%s %s/%s: annotations are valid again", *source)
                self._count(source)
            return
        message = "not advertised: " + "; ".join(str(p) for p in problems)
        if self.reported.get(source) == message:
            return
        self.reported[source] = message
        self._count(source)
        log.warning("%s %s/%s: %s", *source, message)
        kopf.warn(body, reason="InvalidAnnotation", message=message[:1024])

    def report_conflicts(self, conflicts) -> None:
        for conflict in conflicts:
            owner = conflict.loser.owner
            log.warning("%s %s/%s: %s", owner.kind, owner.namespace, owner.name, conflict.message())
            kopf.warn(object_reference(owner), reason="DuplicateInstanceId", message=conflict.message())

    def forget(self, source: Hashable) -> None:
        if self.reported.pop(source, None) is not None:
            self._count(source)

    def _count(self, source: Hashable) -> None:
        kind = source[0]
        metrics.INVALID_OBJECTS.labels(source=kind).set(sum(1 for s in self.reported if s[0] == kind))


API_VERSIONS = {"Pod": "v1", "Service": "v1", "Advertisement": "discovery.asab/v1alpha1"}


def object_reference(owner) -> dict:
    """A body minimal enough for kopf to post an Event about the object."""
    return {"apiVersion": API_VERSIONS.get(owner.kind, "v1"), "kind": owner.kind,
            "metadata": {"namespace": owner.namespace, "name": owner.name, "uid": owner.uid}}


@kopf.on.login(registry=REGISTRY)
def login(**kwargs):
    return kopf.login_via_client(**kwargs)


# An index on Pods makes kopf hold every handler until the first Pod listing is
# complete; `kubernetes_listed` below relies on that. Its values are tiny.
@kopf.index("v1", "pods", registry=REGISTRY, annotations={ann.SERVICE_ID: kopf.PRESENT})
async def annotated_pods(namespace, name, uid, **_):
    return {(namespace, name): uid}


@kopf.on.event("v1", "namespaces", registry=REGISTRY, when=lambda name, **_: name == "kube-system")
async def kubernetes_listed(memo, **_):
    memo.context.advertiser.kubernetes_synced()


@kopf.on.event("v1", "pods", registry=REGISTRY)
async def pod_event(event, memo, **_):
    context: Context = memo.context
    pod = event["object"]
    metadata = pod.get("metadata") or {}
    source = ("pod", metadata.get("namespace", ""), metadata.get("name", ""))
    if event.get("type") == "DELETED":
        context.advertiser.update(source, ())
        context.forget(source)
        return
    outcome = pods.pod_outcome(pod, context.identity)
    context.report_conflicts(context.advertiser.update(source, outcome.adverts))
    context.report(pod, source, outcome.problems)
