"""Wires the parts together and runs them: kopf, the ZooKeeper advertiser, the health endpoint."""
from __future__ import annotations

import asyncio
import contextlib
import logging

import kopf
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

from . import health
from .config import Config
from .handlers import REGISTRY, Context
from .keykeeper import KeyKeeper, KeySettings
from .kube import KubeApi
from .leadership import Leadership, election_path
from .podwatch import PodStream
from .projector import Projector
from .sources.run_tree import RunTree
from .record import Identity
from .sinks.zookeeper import Advertiser

log = logging.getLogger(__name__)


def configure_logging(config: Config) -> None:
    handler = logging.StreamHandler()
    if config.log_format == "json":
        from pythonjsonlogger.json import JsonFormatter
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level)
    # kopf and kazoo narrate every event at INFO; keep them to what matters.
    for noisy in ("kopf", "kazoo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("kazoo.client").setLevel(max(logging.INFO, root.level))  # connection changes


def kopf_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.posting.level = logging.WARNING   # only the Warning Events we post on purpose
    settings.watching.reconnect_backoff = 0.5
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 30
    settings.queueing.idle_timeout = 1.0     # a per-object worker idles this long: with 50,000 Pods it adds up
    # No watch on CustomResourceDefinitions (the RBAC grants none): the CRDs are installed
    # before the operator starts, and a new CRD version is picked up at the next start.
    settings.scanning.disabled = True
    return settings


async def run(config: Config) -> None:
    kube = KubeApi()
    cluster_id = config.cluster_id or await kube.cluster_id()
    identity = Identity(cluster_id)
    log.info("cluster identity %s (node tag %s); advertising under %s", cluster_id, identity.tag, config.run_path)

    client = KazooClient(hosts=config.zookeeper_servers, timeout=config.session_timeout,
                         connection_retry=KazooRetry(max_tries=-1, max_delay=2))
    log.info("connecting to ZooKeeper at %s (session timeout %g s)", config.zookeeper_servers, config.session_timeout)
    client.start_async()   # connects (and reconnects) in the background; the operator runs meanwhile
    leadership = Leadership(client, election_path(config.zookeeper_path, identity.tag, config.namespaces),
                            config.instance_name, config.session_timeout, enabled=config.leader_election)
    kube.write_lease, kube.write_abandoned = leadership.write_lease, leadership.write_abandoned
    advertiser = Advertiser(client, config.run_path, identity, config.reconcile_period,
                            namespaces=frozenset(config.namespaces) or None, leadership=leadership)
    context = Context(identity=identity, advertiser=advertiser, kube=kube, cluster_domain=config.cluster_domain,
                      may_write=leadership.may_write)
    context.projector = Projector(
        kube, RunTree(client, config.run_path, lambda: None, config.reconcile_period), cluster_id,
        context.reporter, grace_period=config.projection_grace_period, reconcile_period=config.reconcile_period,
        namespaces=config.namespaces, may_write=leadership.may_write)
    # A new leader writes what it held back, from its warm caches; a renewed one goes on.
    leadership.on_gain += [context.reporter.flush, context.advertisements.refresh_statuses,
                           context.projector.writing_again]
    leadership.on_renewed += [context.reporter.flush, context.advertisements.refresh_statuses,
                              context.projector.request]

    def readiness():
        # A standby is ready too: it is warm and takes over without a restart.
        checks = advertiser.checks()
        return all(checks.values()), checks, {"leader": leadership.leader}

    try:
        runner = await health.serve(readiness, config.health_host, config.health_port) \
            if config.health_port else None
    except OSError as error:
        raise SystemExit(f"error: --health-host/--health-port: cannot listen on "
                         f"{config.health_host}:{config.health_port}: {error.strerror}")
    tasks = [asyncio.create_task(leadership.run(), name="leader election"),
             asyncio.create_task(advertiser.run(), name="zookeeper advertiser"),
             asyncio.create_task(context.open_gate(config.namespaces), name="first listing"),
             asyncio.create_task(context.projector.run(), name="projection")]
    for namespace in config.namespaces or (None,):
        stream = PodStream(namespace, context.pod_changed, context.pods_listed)
        tasks.append(asyncio.create_task(stream.run(), name=f"Pod watch {namespace or 'cluster-wide'}"))
    if config.key_keeper:
        keeper = KeyKeeper(client, kube, KeySettings(
            namespace=config.key_namespace, configmap=config.key_configmap,
            backup_secret=config.key_backup_secret, source_of_truth=config.key_source_of_truth,
            repair=config.key_repair, rotation_period=config.key_rotation_period), leadership=leadership)
        leadership.on_gain.append(keeper.wake)
        leadership.on_renewed.append(keeper.wake)
        tasks.append(asyncio.create_task(keeper.run(), name="internal auth key keeper"))
    try:
        await kopf.operator(
            registry=REGISTRY, settings=kopf_settings(), memo=kopf.Memo(context=context),
            standalone=True, clusterwide=not config.namespaces, namespaces=config.namespaces,
        )
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if runner:
            await runner.cleanup()
        # Closing the session removes our ephemeral nodes at once, not after the timeout.
        await asyncio.to_thread(client.stop)
        await asyncio.to_thread(client.close)
        log.info("stopped; ZooKeeper session closed")
