"""The keeper of ASAB's shared internal auth key (see authkey.py for the format).

- Ensure: the key node exists; a missing one is restored from the backup Secret
  (when configured) or created in ASAB's format, race-safe (NodeExists: adopt
  what is there). A valid key is adopted, never replaced.
- Validate: an invalid node is reported (a Warning Event on the public ConfigMap,
  the metric asab_operator_internal_key_valid, a log line) and left alone, unless
  repair is on; then it is rewritten in place.
- Rotate: on request (CLI, an annotation on the ConfigMap, or a period), the node
  is rewritten in place with a version check, never deleted and created.
- Back up: optionally the key is kept in a Secret; when the Secret and ZooKeeper
  disagree, the configured source of truth wins and the difference is reported.
- Publish: the public JWK set in a ConfigMap, rewritten when the key changes.

Key material never reaches a log line, an Event, a metric or an error: messages
name the kid at most.
"""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from . import authkey, metrics
from .kube import KubeApi
from .leadership import Leadership, NotLeader, write

log = logging.getLogger(__name__)
ROTATE_ANNOTATION = "discovery.asab/rotate-key"          # set by people: any new value asks for a rotation
ROTATED_ANNOTATION = "discovery.asab/key-rotated-for"    # written by us: the request last handled
ROTATED_AT_ANNOTATION = "discovery.asab/key-rotated-at"
KID_ANNOTATION = "discovery.asab/kid"
MANAGED_BY = {"app.kubernetes.io/managed-by": "asab-discovery-operator"}
SECRET_KEY = "internal_auth_private.key"


@dataclasses.dataclass(frozen=True)
class KeySettings:
    namespace: str = "default"
    configmap: str = "asab-internal-auth-jwks"
    backup_secret: str | None = None
    source_of_truth: str = "zookeeper"      # or "secret"
    repair: bool = False
    rotation_period: float = 0              # seconds; 0 = never on a schedule
    check_period: float = 5.0               # how often the ConfigMap's rotation annotation is read


async def rotate_in_place(client: KazooClient, leadership: Leadership | None = None,
                          path: str = authkey.KEY_PATH) -> tuple[str | None, str]:
    """Replace the key with a new one by compare-and-set (never delete + create: in that gap
    an ASAB service would create a key of its own), fenced when there is an election.
    Returns (old kid, new kid)."""
    for _ in range(5):
        data, stat = await asyncio.to_thread(client.get, path)
        new = authkey.generate()
        try:
            await write(client, leadership, "set_data", path, new, stat.version)
        except BadVersionError:
            continue      # changed under us: read again
        metrics.KEY_ROTATIONS.inc()
        return authkey.kid_of(data), authkey.kid_of(new)
    raise RuntimeError("the key kept changing during the rotation; try again")


class KeyKeeper:
    def __init__(self, client: KazooClient, kube: KubeApi, settings: KeySettings,
                 leadership: Leadership | None = None) -> None:
        self.client, self.kube, self.settings = client, kube, settings
        self.leadership = leadership     # None: always write; else only as the leader, fenced
        self._wake = asyncio.Event()
        self._reported: str | None = None
        self.kid: str | None = None

    # --- paths ---

    @property
    def configmap_path(self) -> str:
        return f"/api/v1/namespaces/{self.settings.namespace}/configmaps/{self.settings.configmap}"

    @property
    def secret_path(self) -> str:
        return f"/api/v1/namespaces/{self.settings.namespace}/secrets/{self.settings.backup_secret}"

    # --- the loop ---

    def wake(self) -> None:
        """Check the key now (on becoming the leader)."""
        self._wake.set()

    def may_write(self) -> bool:
        return self.leadership is None or self.leadership.may_write()

    async def _write_key(self, op: str, *args, **kwargs) -> None:
        """A write of the key node: fenced by the election when there is one."""
        await write(self.client, self.leadership, op, authkey.KEY_PATH, *args, **kwargs)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()

        def changed(*_args) -> None:   # kazoo's thread: on connect and on every change of the node
            loop.call_soon_threadsafe(self._wake.set)
        self.client.add_listener(lambda state: changed())
        watching = False
        while True:
            try:
                if self.client.connected and self.may_write():
                    if not watching:
                        await asyncio.to_thread(self.client.DataWatch, authkey.KEY_PATH, changed)
                        watching = True
                    await self.ensure()
                    await self.rotate_if_asked()
            except NotLeader as error:
                log.info("internal auth key: %s; the leader keeps it", error)
            except Exception as error:
                metrics.ERRORS.labels(kind="key_keeper").inc()
                log.error("internal auth key: %s: %s", type(error).__name__, _safe(error))
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.check_period)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def _read(self) -> tuple[bytes | None, int | None]:
        try:
            data, stat = await asyncio.to_thread(self.client.get, authkey.KEY_PATH)
            return data, stat.version
        except NoNodeError:
            return None, None

    async def ensure(self) -> None:
        data, version = await self._read()
        backup = await self._read_backup()
        if version is None:
            if backup is not None:
                new, how = backup, "restored from the backup Secret"
            else:
                new, how = authkey.generate(), "created"
            try:
                await asyncio.to_thread(self.client.ensure_path, authkey.KEY_PATH.rsplit("/", 1)[0])
                await self._write_key("create", new)
                log.info("internal auth key %s (kid %s)", how, authkey.kid_of(new))
            except NodeExistsError:
                log.info("internal auth key appeared meanwhile (an ASAB service made it): adopting it")
            data, version = await self._read()
            if data is None:
                return
        found = authkey.check(data)
        if not found.valid:
            metrics.KEY_VALID.set(0)
            if self.settings.repair:
                new = backup if backup is not None else authkey.generate()
                await self._write_key("set_data", new, version)
                await self._report("InternalAuthKeyRepaired", f"the key node was invalid ({found.problem}); "
                                   f"rewritten in place (kid {authkey.kid_of(new)})", "Warning")
                return
            await self._report("InternalAuthKeyInvalid", f"{authkey.KEY_PATH} is invalid: {found.problem}; "
                               "left alone (run with --key-repair to rewrite it)", "Warning")
            return
        metrics.KEY_VALID.set(1)
        if self._reported and self._reported.startswith("InternalAuthKeyInvalid"):
            self._reported = None
            log.info("internal auth key is valid again (kid %s)", found.kid)
        if backup is not None and backup != data and self.settings.source_of_truth == "secret":
            await self._write_key("set_data", backup, version)
            await self._report("InternalAuthKeyDisagrees", f"ZooKeeper held kid {found.kid}, the backup Secret "
                               f"kid {authkey.kid_of(backup)}; the Secret is the source of truth: ZooKeeper "
                               "rewritten", "Warning")
            return   # the watch brings us back with the new data
        # published first: a failing backup must not keep the public key set stale
        await self._publish(data, found.kid)
        if found.kid != self.kid:
            log.info("internal auth key in use: kid %s", found.kid)
            self.kid = found.kid
        if self.settings.backup_secret and backup != data:
            if backup is not None:
                await self._report("InternalAuthKeyDisagrees", f"the backup Secret held kid {authkey.kid_of(backup)}, "
                                   f"ZooKeeper kid {found.kid}; ZooKeeper is the source of truth: Secret "
                                   "rewritten", "Warning")
            await self._write_backup(data)

    # --- Kubernetes objects ---

    async def _read_backup(self) -> bytes | None:
        if not self.settings.backup_secret:
            return None
        secret = await self.kube.get(self.secret_path)
        encoded = ((secret or {}).get("data") or {}).get(SECRET_KEY)
        if not encoded:
            return None
        data = base64.b64decode(encoded)
        found = authkey.check(data)
        if not found.valid:
            await self._report("InternalAuthKeyBackupInvalid", f"the backup Secret's key is invalid: "
                               f"{found.problem}; not used", "Warning")
            return None
        return data

    async def _write_backup(self, data: bytes) -> None:
        encoded = base64.b64encode(data).decode()
        current = await self.kube.get(self.secret_path)
        if current is None:
            await self.kube.create(self.secret_path.rsplit("/", 1)[0], {
                "metadata": {"name": self.settings.backup_secret, "labels": MANAGED_BY},
                "type": "Opaque", "data": {SECRET_KEY: encoded}})
        else:   # with the resourceVersion read: a change meanwhile (another writer) fails it
            await self.kube.merge_patch(self.secret_path, {
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                "data": {SECRET_KEY: encoded}})
        log.info("internal auth key backed up to Secret %s/%s", self.settings.namespace, self.settings.backup_secret)

    async def _configmap(self) -> dict | None:
        return await self.kube.get(self.configmap_path)

    async def _publish(self, data: bytes, kid: str) -> None:
        jwks = json.dumps(authkey.public_jwks(data), indent=2, sort_keys=True) + "\n"
        current = await self._configmap()
        if current is None:
            await self.kube.create(self.configmap_path.rsplit("/", 1)[0], {
                "metadata": {"name": self.settings.configmap, "labels": MANAGED_BY,
                             "annotations": {KID_ANNOTATION: kid}},
                "data": {"jwks.json": jwks}})
            log.info("published the public key set in ConfigMap %s/%s", self.settings.namespace, self.settings.configmap)
            return
        if (current["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") != MANAGED_BY[
                "app.kubernetes.io/managed-by"]:
            await self._report("ConfigMapNotOurs", f"ConfigMap {self.settings.configmap} exists and is not "
                               "managed by this operator; the public key set is not published", "Warning")
            return
        if (current.get("data") or {}).get("jwks.json") != jwks:
            await self.kube.merge_patch(self.configmap_path, {"metadata": {"annotations": {KID_ANNOTATION: kid}},
                                                              "data": {"jwks.json": jwks}})
            log.info("public key set updated (kid %s)", kid)

    async def _report(self, reason: str, message: str, event_type: str) -> None:
        """Log and post an Event on the ConfigMap, once per distinct message."""
        if self._reported == f"{reason}: {message}":
            return
        self._reported = f"{reason}: {message}"
        log.warning("internal auth key: %s", message)
        current = await self._configmap()
        if current is not None:
            try:
                await self.kube.post_event({"apiVersion": "v1", "kind": "ConfigMap", "metadata": current["metadata"]},
                                           event_type, reason, message)
            except NotLeader:
                self._reported = None     # posted when this replica may write again
                raise

    # --- rotation ---

    async def rotate_if_asked(self) -> None:
        current = await self._configmap()
        if current is None:
            return
        annotations = current["metadata"].get("annotations") or {}
        asked = annotations.get(ROTATE_ANNOTATION)
        due = False
        if self.settings.rotation_period:
            rotated_at = float(annotations.get(ROTATED_AT_ANNOTATION) or 0)
            if not rotated_at:   # first sight: start the clock rather than rotate at once
                await self.kube.merge_patch(self.configmap_path, {"metadata": {"annotations": {
                    ROTATED_AT_ANNOTATION: str(int(time.time()))}}})
            due = bool(rotated_at) and time.time() - rotated_at >= self.settings.rotation_period
        if not due and (not asked or asked == annotations.get(ROTATED_ANNOTATION)):
            return
        old, new = await rotate_in_place(self.client, self.leadership)
        why = f"annotation {ROTATE_ANNOTATION}={asked}" if asked and asked != annotations.get(ROTATED_ANNOTATION) \
            else "the rotation period"
        await self.kube.merge_patch(self.configmap_path, {"metadata": {"annotations": {
            ROTATED_ANNOTATION: asked, ROTATED_AT_ANNOTATION: str(int(time.time()))}}})
        log.info("internal auth key rotated (kid %s -> %s), asked by %s; ASAB services pick it up "
                 "within 300 s", old, new, why)
        await self.kube.post_event({"apiVersion": "v1", "kind": "ConfigMap", "metadata": current["metadata"]},
                                   "Normal", "InternalAuthKeyRotated", f"kid {old} -> {new} ({why})")
        await self.ensure()


def _safe(error: Exception) -> str:
    """An error's text, unless it could carry key material (those are summarised by type)."""
    text = str(error)
    return text if '"d"' not in text and "'d'" not in text else "(details withheld: may contain key material)"
