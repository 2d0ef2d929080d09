"""kopf handlers: thin. They turn a watch event into a call of the core and report problems.

On objects the operator does not own (Pods) only `@kopf.on.event` and `@kopf.index`
are used: kopf then never patches, annotates or puts finalizers on them.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
from typing import Hashable

import kopf

from . import annotations as ann
from .freshness import RelistAudit, Subject
from .kube import KubeApi
from .record import Identity
from .reporting import Reporter
from .sinks.zookeeper import Advertiser
from .sources import pods

log = logging.getLogger(__name__)
REGISTRY = kopf.OperatorRegistry()


@dataclasses.dataclass
class Context:
    """What the handlers share, passed through kopf's memo."""
    identity: Identity
    advertiser: Advertiser
    kube: KubeApi
    reporter: Reporter = dataclasses.field(default_factory=Reporter)
    audit: RelistAudit = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.audit = RelistAudit(
            sources=lambda: itertools.chain(self.advertiser.state.sources(), self.reporter.sources()),
            exists=self.kube.exists, withdraw=self.withdraw, uid_of=self.uid_of)

    def apply(self, body, source: Hashable, adverts, problems) -> None:
        """One source's new contribution, and what is wrong with it."""
        self.reporter.conflicts(self.advertiser.update(source, adverts))
        self.reporter.problems(body, source, problems)

    def withdraw(self, source: Hashable) -> None:
        self.advertiser.update(source, ())
        self.reporter.forget(source)

    def uid_of(self, source: Hashable, subject: Subject) -> str | None:
        for advert in self.advertiser.state.contribution(source).values():
            if (advert.owner.kind, advert.owner.namespace, advert.owner.name) == subject:
                return advert.owner.uid
        return None


def source_of(kind: str, body) -> tuple[str, str, str]:
    metadata = body.get("metadata") or {}
    return (kind, metadata.get("namespace", ""), metadata.get("name", ""))


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
    context: Context = memo.context
    context.audit.armed = True
    context.advertiser.kubernetes_synced()


@kopf.on.event("v1", "pods", registry=REGISTRY)
async def pod_event(event, memo, **_):
    context: Context = memo.context
    pod = event["object"]
    source = source_of("Pod", pod)
    if event.get("type") == "DELETED":
        context.withdraw(source)
        context.audit.forget(source)
        return
    outcome = pods.pod_outcome(pod, context.identity)
    if outcome.annotated or context.advertiser.state.contribution(source):
        context.audit.seen(source, listing=event.get("type") is None)
    context.apply(pod, source, outcome.adverts, outcome.problems)
