"""Fixtures for end-to-end tests: the real local environment, a real operator, a real ASAB peer."""
from __future__ import annotations

import pytest

import harness
import localenv

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def env() -> harness.Environment:
    localenv.up()   # idempotent: a running environment is reused
    environment = harness.Environment()
    environment.install_crds()
    return environment


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def zk(env):
    client = env.zk()
    yield client
    client.stop()
    client.close()


class OperatorSlot:
    """The session's operator, restartable by tests that need a restart."""

    def __init__(self, env, log_dir):
        self.env, self.log_dir, self.count = env, log_dir, 0
        self.process: harness.Operator | None = None
        self.start()

    def start(self) -> harness.Operator:
        self.count += 1
        self.process = harness.Operator(self.env, self.log_dir, "--reconcile-period", "5",
                                        name=f"operator-{self.count}")
        self.process.wait_ready()
        return self.process

    def stop(self, sig=None) -> None:
        self.process.stop(sig)


@pytest.fixture(scope="session")
def operator_slot(env, log_dir):
    slot = OperatorSlot(env, log_dir)
    yield slot
    slot.stop()


@pytest.fixture
def operator(operator_slot) -> harness.Operator:
    if not operator_slot.process.alive():
        operator_slot.start()
    return operator_slot.process


@pytest.fixture(scope="session")
def peer(env, log_dir):
    process = harness.AsabPeer(env, log_dir)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def addresses():
    return harness.LoopbackAddresses()


@pytest.fixture
def ns(env):
    name = env.namespace()
    yield name
    env.clean_namespace(name)
