"""Fixtures for the install tests: the real local API server (no operator runs here)."""
from __future__ import annotations

import pytest

import harness
import localenv

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def env() -> harness.Environment:
    localenv.up()   # idempotent: a running environment is reused
    return harness.Environment()
