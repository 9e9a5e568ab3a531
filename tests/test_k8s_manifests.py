"""deploy/k8s cannot be applied here (no cluster), so check it names what exists and fits."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.runtime import ROLES, group_id
from shared.settings import ServiceSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "deploy" / "k8s" / "base"
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if p.is_dir())


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all() -> list[dict[str, Any]]:
    kustomization = _docs(BASE / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in _docs(BASE / name)]


def _of(kind: str) -> list[dict[str, Any]]:
    return [d for d in _all() if d["kind"] == kind]


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    return dict(containers[0])


def _spec(service: str) -> Any:
    return importlib.import_module(f"{service}.bootstrap").SPEC


def _default_port(service: str) -> int:
    module = importlib.import_module(f"{service}.settings")
    classes = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    return int(classes[0].model_fields["http_port"].default)


def test_kustomization_lists_every_manifest_and_every_document_parses() -> None:
    listed = set(_docs(BASE / "kustomization.yaml")[0]["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert {d["kind"] for d in _all()} >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Job",
        "HorizontalPodAutoscaler",
    }


def test_every_deployment_and_job_runs_an_existing_service_module_and_role() -> None:
    workloads = _of("Deployment") + _of("Job")
    assert workloads
    for workload in workloads:
        command = _container(workload)["command"]
        assert command[:2] == ["python", "-m"], command
        service, role = command[2], command[3]
        assert service in SERVICES, command
        assert importlib.util.find_spec(f"{service}.__main__") is not None, service
        own = tuple(_spec(service).roles)
        assert role in (*ROLES, *own) and role != "all", command
        allowed = ("migrate",) if workload["kind"] == "Job" else ("api", "worker", "relay", *own)
        assert role in allowed, (workload["kind"], command)
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == service
        assert workload["metadata"]["name"] == f"{service}-{role}"


def test_each_service_has_its_migration_api_relay_and_own_roles() -> None:
    names = {d["metadata"]["name"] for d in _of("Deployment")}
    jobs = {d["metadata"]["name"] for d in _of("Job")}
    for service in SERVICES:
        assert f"{service}-migrate" in jobs
        assert {f"{service}-api", f"{service}-relay"} <= names
        consumes = bool(_spec(service).subscribes)
        assert (f"{service}-worker" in names) == consumes, service
        # a role of the service's own (ingest's notifications) runs in a Deployment too
        assert {f"{service}-{role}" for role in _spec(service).roles} <= names, service


def test_every_deployment_is_probed_and_scraped_where_it_serves_ops() -> None:
    """The api serves /healthz, /readyz and /metrics on HTTP_PORT with the API; a worker or
    relay (no API) on its OPS_PORT. Each is probed there and annotated for scraping there."""
    services = {d["metadata"]["name"]: d for d in _of("Service")}
    for deployment in _of("Deployment"):
        container = _container(deployment)
        service, role = container["command"][2:4]
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == (
            f"DATABASE_URL_{service.upper()}"
        )
        if role == "api":
            name, port = "http", _default_port(service)
            assert env["HTTP_PORT"]["value"] == str(port)
            svc = services[service]
            assert svc["spec"]["selector"] == {
                "app.kubernetes.io/name": service,
                "app.kubernetes.io/component": "api",
            }
            assert svc["spec"]["ports"][0]["port"] == port
        else:
            name, port = "ops", int(env["OPS_PORT"]["value"])
            assert "HTTP_PORT" not in env, deployment["metadata"]["name"]
            assert ServiceSettings(OPS_PORT=str(port)).ops_port == port
        assert container["ports"] == [{"name": name, "containerPort": port}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": name}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": name}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }, deployment["metadata"]["name"]


def test_secret_and_configmap_hold_what_the_workloads_refer_to() -> None:
    secret = _of("Secret")[0]["stringData"]
    config = _of("ConfigMap")[0]["data"]
    assert {"ORDERFLOW_API_KEYS", "ORDERFLOW_PII_KEY"} <= secret.keys()
    for workload in _of("Deployment") + _of("Job"):
        container = _container(workload)
        assert container["envFrom"] == [{"configMapRef": {"name": config_name()}}]
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == _of("Secret")[0]["metadata"]["name"]
                assert ref["key"] in secret, ref
    # Only the services that open buyer PII get the key (analytics must never hold it).
    holders = {
        _container(d)["command"][2]
        for d in _of("Deployment")
        if "ORDERFLOW_PII_KEY" in {e["name"] for e in _container(d).get("env", [])}
    }
    assert "analytics" not in holders and {"ingest", "fulfillment"} <= holders
    assert config["HTTP_HOST"] == "0.0.0.0"
    assert int(config["KAFKA_REPLICATION_FACTOR"]) >= 3


def config_name() -> str:
    return str(_of("ConfigMap")[0]["metadata"]["name"])


def test_worker_autoscalers_stay_within_partitions_and_watch_their_own_group() -> None:
    partitions = int(_of("ConfigMap")[0]["data"]["KAFKA_PARTITIONS"])
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in _of("HorizontalPodAutoscaler")}
    workers = {
        d["metadata"]["name"]
        for d in _of("Deployment")
        if d["metadata"]["name"].endswith("-worker")
    }
    assert set(hpas) == workers
    for name, hpa in hpas.items():
        service = name.removesuffix("-worker")
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
        lag = next(m for m in hpa["spec"]["metrics"] if m["type"] == "External")
        group = lag["external"]["metric"]["selector"]["matchLabels"]["consumergroup"]
        assert group == group_id(service, ServiceSettings(KAFKA_TOPIC_PREFIX=""))


def test_keda_alternative_scales_the_same_workers_on_their_topics() -> None:
    keda = ROOT / "deploy" / "k8s" / "keda"
    objects = _docs(keda / "scaledobjects.yaml")
    partitions = int(_of("ConfigMap")[0]["data"]["KAFKA_PARTITIONS"])
    assert {o["spec"]["scaleTargetRef"]["name"] for o in objects} == {
        f"{s}-worker" for s in SERVICES if _spec(s).subscribes
    }
    for obj in objects:
        service = obj["spec"]["scaleTargetRef"]["name"].removesuffix("-worker")
        topics = {t["metadata"]["topic"] for t in obj["spec"]["triggers"]}
        assert topics == set(_spec(service).subscribes), service
        assert 1 <= obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"] <= partitions
