"""The bench harness is a package at the repository's root, not an installed one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.cluster import Infra  # noqa: E402 (importable once ROOT is on the path)
from devstack import config  # noqa: E402


@pytest.fixture
def test_infra(kafka_bootstrap: str, postgres_server: str) -> Infra:
    """The servers this test run started, as a bench ``Infra`` (the bench reads their CPU from
    ``/proc``, so external servers named by the environment will not do)."""
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ or "POSTGRES_URL" in os.environ:
        pytest.skip("needs the servers this test run started (it reads their CPU)")
    return Infra(
        "test",
        config.TEST_KAFKA_PORT,
        config.TEST_KAFKA_CONTROLLER_PORT,
        config.TEST_POSTGRES_PORT,
        postgres_dir="pg",
    )
