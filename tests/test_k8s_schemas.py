"""Every manifest in deploy/k8s validates against the Kubernetes API's own schemas.

The schemas ship with ``kubernetes-validate`` (no cluster, no network). Kinds that come from
custom resource definitions (KEDA, the Prometheus Operator) and kustomize's own files have no
schema there; they are listed by name so that a new kind is never skipped by accident, and
tests/test_k8s_manifests.py checks their content.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"

# The Kubernetes minor versions the manifests are written for: from the oldest still served by
# the large managed offerings to the newest release.
VERSIONS = ("1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0")

# Kinds without a schema in the Kubernetes API: custom resources and kustomize's own file.
NOT_IN_THE_API = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((str(path.relative_to(ROOT)), doc))
    return found


def _validate(doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def _in_the_api(doc: dict[str, Any]) -> bool:
    return (doc["apiVersion"], doc["kind"]) not in NOT_IN_THE_API


def test_every_manifest_validates_strictly_against_every_supported_version() -> None:
    checked = 0
    for where, doc in _documents():
        if not _in_the_api(doc):
            continue
        for version in VERSIONS:
            try:
                _validate(doc, version)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where}: {doc['kind']} {doc['metadata']['name']} ({version}): {exc}")
        checked += 1
    assert checked >= 20  # the four services' workloads, services, jobs and autoscalers


def test_only_known_custom_kinds_go_unvalidated() -> None:
    skipped = {(d["apiVersion"], d["kind"]) for _, d in _documents() if not _in_the_api(d)}
    assert skipped <= NOT_IN_THE_API
    for _, doc in _documents():
        if _in_the_api(doc):
            _validate(doc, VERSIONS[-1])  # raises SchemaNotFoundError for an unknown kind


@pytest.mark.parametrize(
    ("breakage", "path"),
    [
        ("misspelt field", ("spec", "template", "spec", "contianers")),
        ("wrong type", ("spec", "replicas")),
    ],
)
def test_a_broken_deployment_is_refused(breakage: str, path: tuple[str, ...]) -> None:
    deployment = next(d for _, d in _documents() if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "two" if breakage == "wrong type" else []
    _validate(deployment, VERSIONS[-1])
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken, VERSIONS[-1])
