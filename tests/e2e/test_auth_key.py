"""The internal auth key keeper, against real ZooKeeper, the real API server and real ASAB apps.

Each test gets its own ZooKeeper chroot (so its /asab/auth/internal_auth_private.key
is its own), its own ConfigMap and Secret, and its own ASAB applications.
"""
from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid

import pytest

import harness
from harness import eventually, http_json

KEY = "/asab/auth/internal_auth_private.key"


class KeyEnv:
    def __init__(self, env, zk, log_dir, ns):
        self.env, self.zk, self.log_dir, self.ns = env, zk, log_dir, ns
        self.tag = uuid.uuid4().hex[:8]
        self.chroot = f"/keytest-{self.tag}"
        zk.ensure_path(self.chroot)
        self.servers = env.zookeeper + self.chroot
        # The installation's names (each test has a namespace of its own).
        self.configmap, self.secret = "asab-internal-auth-jwks", "asab-internal-auth-key-backup"
        self.started: list[harness.Process] = []

    def operator(self, *flags: str, name: str = "op") -> harness.Operator:
        operator = harness.Operator(self.env, self.log_dir, "--zookeeper-path", "k" + self.tag,
                                    "--cluster-id", self.tag, "--key-namespace", self.ns,
                                    "--key-configmap", self.configmap, *flags,
                                    name=f"key-{self.tag}-{name}", zookeeper=self.servers)
        self.started.append(operator)
        return operator

    def asab(self, name: str, auth: bool = False) -> harness.AsabPeer:
        peer = harness.AsabPeer(self.env, self.log_dir, zookeeper=self.servers, listen="0.0.0.0 {port}",
                                auth=auth, name=f"key-{self.tag}-{name}", INSTANCE_ID=f"{name}-{self.tag}",
                                SERVICE_ID=name, ASAB_HOSTNAME="127.0.0.1")
        self.started.append(peer)
        return peer

    def key(self):
        return self.zk.get(self.chroot + KEY)

    def public_kid(self) -> str:
        jwks = json.loads(self.env.core.read_namespaced_config_map(self.configmap, self.ns).data["jwks.json"])
        (public,) = jwks["keys"]
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(public), "a private field in the ConfigMap"
        return public["kid"]

    def events(self, reason: str) -> list[str]:
        return [e.message for e in self.env.core.list_namespaced_event(
            self.ns, field_selector=f"involvedObject.name={self.configmap}").items if e.reason == reason]

    def assert_never_leaked(self, operator: harness.Operator, *keys: bytes) -> None:
        """No private part in the operator's log, in any Event of the namespace, or in a metric."""
        events = " ".join(f"{e.reason} {e.message}" for e in self.env.core.list_namespaced_event(self.ns).items)
        metrics = str(http_json(operator.url("/metrics"))[1]) if operator.alive() else ""
        for data in keys:
            secret = json.loads(data)["d"]
            assert secret not in operator.log(), "key material in the log"
            assert secret not in events, "key material in an Event"
            assert secret not in metrics, "key material in a metric"

    def close(self) -> None:
        for process in self.started:
            process.stop()
        self.zk.delete(self.chroot, recursive=True)


@pytest.fixture
def keys(env, zk, log_dir, ns):
    keyenv = KeyEnv(env, zk, log_dir, ns)
    yield keyenv
    keyenv.close()


def kid(data: bytes) -> str:
    return json.loads(data)["kid"]


def test_operator_creates_the_key_and_asab_services_authorize_with_it(env, keys):
    operator = keys.operator("--key-backup-secret", keys.secret)
    operator.wait_ready()
    data, stat = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key node")
    parsed = json.loads(data)
    assert list(parsed) == ["kty", "kid", "crv", "x", "y", "d"] and len(parsed["kid"]) == 32
    eventually(lambda: keys.public_kid() == parsed["kid"], what="the public key set")
    secret = eventually(lambda: env.core.read_namespaced_secret(keys.secret, keys.ns), what="the backup Secret")
    assert base64.b64decode(secret.data["internal_auth_private.key"]) == data

    receiver = keys.asab("receiver", auth=True)
    caller = keys.asab("caller")
    url = f"http://receiver-{keys.tag}.instance_id.asab/peer/protected"
    reply = eventually(lambda: (r := caller.fetch(url, auth="internal")) and r.get("status") == 200 and r, 30, 0.5,
                       "an internally authorized request to pass")
    assert json.loads(reply["body"]) == {"authorized": True}
    assert caller.fetch(url)["status"] == 401, "without a token the receiver refuses"
    assert keys.key() == (data, stat), "ASAB services adopted the operator's key, never replaced it"
    assert stat.version == 0
    keys.assert_never_leaked(operator, data)
    assert operator.metric("asab_operator_internal_key_valid") == 1


def test_operator_and_asab_starting_together_end_with_one_key(env, keys):
    operator = keys.operator()
    peer = keys.asab("racer", auth=True)     # both start now; ASAB creates a key if it finds none
    operator.wait_ready()
    data, stat = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key node")
    eventually(lambda: keys.public_kid() == kid(data), what="the public key set")
    time.sleep(2)
    assert keys.key() == (data, stat) and stat.version == 0, "one key, created once and never replaced"
    self_call = f"http://racer-{keys.tag}.instance_id.asab/peer/protected"
    eventually(lambda: peer.fetch(self_call, auth="internal").get("status") == 200, 30, 0.5,
               "the ASAB service to authorize with that key")


def test_deleted_key_is_restored_from_the_secret(env, keys):
    operator = keys.operator("--key-backup-secret", keys.secret)
    operator.wait_ready()
    data, _ = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key node")
    eventually(lambda: env.core.read_namespaced_secret(keys.secret, keys.ns), what="the backup Secret")
    keys.zk.delete(keys.chroot + KEY)
    restored, _ = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key back")
    assert restored == data, "the same key, so tokens already issued keep validating"
    eventually(lambda: "restored from the backup Secret" in operator.log(), what="the log line")
    keys.assert_never_leaked(operator, data)


def test_corrupt_key_is_reported_and_left_alone_unless_repair_is_on(env, keys):
    operator = keys.operator("--key-backup-secret", keys.secret)
    operator.wait_ready()
    data, _ = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key node")
    eventually(lambda: env.core.read_namespaced_secret(keys.secret, keys.ns), what="the backup Secret")
    keys.zk.set(keys.chroot + KEY, b"{not json")
    messages = eventually(lambda: keys.events("InternalAuthKeyInvalid"), what="a Warning Event on the ConfigMap")
    assert "not JSON" in messages[0] and "left alone" in messages[0]
    eventually(lambda: operator.metric("asab_operator_internal_key_valid") == 0, what="the metric")
    assert "is invalid: the node is not JSON" in operator.log()
    time.sleep(2)
    assert keys.key()[0] == b"{not json", "reported, not silently overwritten"
    operator.stop()

    repairer = keys.operator("--key-backup-secret", keys.secret, "--key-repair", "on", name="repair")
    repaired, _ = eventually(lambda: (k := keys.key()) and k[0] != b"{not json" and k, 30, what="the repair")
    assert repaired == data, "repaired from the backup Secret: the same key"
    eventually(lambda: keys.events("InternalAuthKeyRepaired"), what="the InternalAuthKeyRepaired Event")
    keys.assert_never_leaked(repairer, data)


def test_rotation_by_cli_and_by_annotation(env, keys):
    operator = keys.operator()
    operator.wait_ready()
    first, first_stat = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key")
    eventually(lambda: keys.public_kid() == kid(first), what="the public key set")

    out = subprocess.run(harness.OPERATOR + ["key", "rotate", "--zookeeper-servers", keys.servers],
                         capture_output=True, text=True, check=True).stdout
    second, second_stat = keys.key()
    assert kid(second) != kid(first) and f"{kid(first)} -> {kid(second)}" in out
    assert second_stat.version == first_stat.version + 1, "rewritten in place (compare-and-set)"
    assert second_stat.czxid == first_stat.czxid, "never deleted and created"
    eventually(lambda: keys.public_kid() == kid(second), what="the ConfigMap to follow the CLI rotation")

    env.core.patch_namespaced_config_map(keys.configmap, keys.ns,
                                         {"metadata": {"annotations": {"discovery.asab/rotate-key": "2026-12-03"}}})
    third, _ = eventually(lambda: (k := keys.key()) and kid(k[0]) != kid(second) and k, 20, what="the rotation")
    eventually(lambda: keys.public_kid() == kid(third), what="the ConfigMap to follow")
    eventually(lambda: keys.events("InternalAuthKeyRotated"), what="the InternalAuthKeyRotated Event")
    time.sleep(6)      # a handled request is not repeated
    assert keys.key()[0] == third
    show = subprocess.run(harness.OPERATOR + ["key", "show", "--zookeeper-servers", keys.servers],
                          capture_output=True, text=True, check=True).stdout
    assert f"valid, kid {kid(third)}" in show and json.loads(third)["d"] not in show
    keys.assert_never_leaked(operator, first, second, third)


def put_backup(env, keys, data: bytes) -> None:
    env.core.patch_namespaced_secret(keys.secret, keys.ns,
                                     {"data": {"internal_auth_private.key": base64.b64encode(data).decode()}})


def backup_of(env, keys) -> bytes | None:
    """The backup Secret's key; None while the Secret is still empty."""
    data = env.core.read_namespaced_secret(keys.secret, keys.ns).data or {}
    return base64.b64decode(data["internal_auth_private.key"]) if "internal_auth_private.key" in data else None


def test_secret_and_zookeeper_disagreeing_the_source_of_truth_wins(env, keys):
    from asab_operator import authkey
    operator = keys.operator("--key-backup-secret", keys.secret)
    operator.wait_ready()
    data, _ = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key")
    eventually(lambda: backup_of(env, keys) == data, what="the backup")
    other = authkey.generate()
    put_backup(env, keys, other)        # ZooKeeper is the source of truth: the Secret is put right
    eventually(lambda: backup_of(env, keys) == data, 20, 0.2, "the Secret rewritten from ZooKeeper")
    eventually(lambda: keys.events("InternalAuthKeyDisagrees"), what="the disagreement reported")
    assert keys.key()[0] == data
    operator.stop()

    secret_first = keys.operator("--key-backup-secret", keys.secret, "--key-source-of-truth", "secret",
                                 name="secret-truth")
    put_backup(env, keys, other)        # now the Secret wins: ZooKeeper is rewritten in place
    eventually(lambda: keys.key()[0] == other, 20, 0.2, "ZooKeeper rewritten from the Secret")
    eventually(lambda: keys.public_kid() == kid(other), what="the public key set")
    keys.assert_never_leaked(secret_first, data, other)


def test_scheduled_rotation(env, keys):
    operator = keys.operator("--key-rotation-period", "4")
    operator.wait_ready()
    first, _ = eventually(lambda: keys.zk.exists(keys.chroot + KEY) and keys.key(), what="the key")
    second, _ = eventually(lambda: (k := keys.key()) and k[0] != first and k, 20, 0.2, "a scheduled rotation")
    eventually(lambda: keys.public_kid() == kid(second), what="the public key set")
    assert operator.metric("asab_operator_internal_key_rotations_total") >= 1
