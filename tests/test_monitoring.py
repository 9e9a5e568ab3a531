"""deploy/k8s/monitoring cannot be loaded here (no Prometheus), so check that every alert is
valid PromQL, asks only for series the services export (with labels they have) or Kafka's
lag, and that the PodMonitor scrapes the ports the Deployments name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import shared.metrics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "deploy" / "k8s" / "monitoring"
BASE = ROOT / "deploy" / "k8s" / "base"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}
KAFKA_LAG = {"kafka_consumergroup_lag": {"consumergroup", "topic", "partition"}}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _rules() -> list[dict[str, Any]]:
    [rule] = _docs(MONITORING / "prometheusrule.yaml")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def _exported() -> dict[str, set[str]]:
    """Every series name the services expose (a counter's ``_total``, a histogram's
    ``_bucket``...), with its labels."""
    series: dict[str, set[str]] = {}
    for metric in vars(shared.metrics).values():
        if isinstance(metric, MetricWrapperBase):
            labels = set(metric._labelnames)
            for suffix in SUFFIXES[metric._type]:
                series[metric._name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def _selectors(expr: Any) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
        elif isinstance(node, promql_parser.MatrixSelector):
            found.append(node.vector_selector)

    promql_parser.walk(expr, pre_visit=visit)
    return found


def test_the_kustomization_lists_both_files() -> None:
    [kustomization] = _docs(MONITORING / "kustomization.yaml")
    assert set(kustomization["resources"]) == {"podmonitor.yaml", "prometheusrule.yaml"}


def test_every_alert_is_valid_promql_over_series_that_exist() -> None:
    exported = {**_exported(), **KAFKA_LAG}
    assert "orderflow_events_consumed_total" in exported
    rules = _rules()
    assert len(rules) >= 6
    for rule in rules:
        expr = promql_parser.parse(rule["expr"])  # raises on a syntax error
        selectors = _selectors(expr)
        assert selectors, rule["alert"]
        for selector in selectors:
            assert selector.name in exported, (rule["alert"], selector.name)
            for matcher in selector.matchers.matchers:
                assert matcher.name in exported[selector.name], (rule["alert"], matcher.name)
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_a_broken_expression_would_be_caught() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("sum by (service (rate(orderflow_dead_letters_total[5m]))")


def test_the_pod_monitor_scrapes_every_port_the_deployments_serve_metrics_on() -> None:
    [monitor] = _docs(MONITORING / "podmonitor.yaml")
    scraped = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    selector = monitor["spec"]["selector"]["matchLabels"]
    served = set()
    for path in BASE.glob("*.yaml"):
        for doc in _docs(path):
            if doc["kind"] != "Deployment":
                continue
            template = doc["spec"]["template"]
            assert selector.items() <= template["metadata"]["labels"].items()
            [container] = template["spec"]["containers"]
            served |= {p["name"] for p in container["ports"]}
    assert served == scraped == {"http", "ops"}


def test_stalls_of_relays_and_workers_are_alerted_on() -> None:
    """Issue 20: a relay that publishes nothing while rows wait, and a worker that applies
    nothing while it has lag, each have an alert over the series the process itself exports
    (not only Kafka's lag, which says nothing of a relay)."""
    rules = {r["alert"]: r for r in _rules()}
    for alert, series in {
        "OrderflowRelayStalled": {
            "orderflow_outbox_oldest_unsent_age_seconds",
            "orderflow_outbox_last_success_timestamp_seconds",
        },
        "OrderflowWorkerNotApplying": {
            "orderflow_consumer_lag",
            "orderflow_consumer_last_applied_timestamp_seconds",
        },
    }.items():
        expr = promql_parser.parse(rules[alert]["expr"])
        assert {s.name for s in _selectors(expr)} == series, alert
        assert rules[alert]["labels"]["severity"] == "critical"
