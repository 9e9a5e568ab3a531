"""Schemathesis against each service's OpenAPI document, positive and negative, with its
stateful phase: no server error, and every response conforms to the documented schema.

A bounded run is part of ``make test`` (``FUZZ_EXAMPLES``, default 10 per operation);
``make fuzz`` runs a longer one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SERVICES, ServiceProcess

pytestmark = pytest.mark.e2e

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("key", ["k-seller", "k-ops"])
def test_openapi_fuzzing_finds_no_server_error(
    start_service: Callable[..., ServiceProcess], service: str, key: str, tmp_path: Path
) -> None:
    running = start_service(service, RATE_LIMIT_PER_SECOND="100000", RATE_LIMIT_BURST="100000")
    examples = os.environ.get("FUZZ_EXAMPLES", "10")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{running.url}/openapi.json",
            "--checks",
            CHECKS,
            "--mode",
            "all",
            "--max-examples",
            examples,
            "--seed",
            "20261126",
            "--generation-database",
            "none",
            "--header",
            f"Authorization: Bearer {key}",
            "--request-timeout",
            "30",
            "--workers",
            "1",  # CPython 3.11.7 ast.parse is not thread-safe (SystemError)
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
