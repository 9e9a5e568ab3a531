"""Settings, the typed dependencies and the REST adapters on fakes at the boundary
(httpx.MockTransport), no I/O."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from analytics.adapters.ingest_client import IngestClient, NoIngest
from analytics.adapters.peers import Peers, stall_view
from analytics.dependencies import Dependencies
from analytics.service_layer.ports import IngestView, Unreachable
from analytics.settings import AnalyticsSettings

pytestmark = pytest.mark.unit

KEYS = "sys=system,ops-one=ops,ops-two=ops"


def test_analytics_never_takes_the_pii_key() -> None:
    settings = AnalyticsSettings(ORDERFLOW_PII_KEY="n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs=")
    assert settings.pii_key == ""


def test_peer_key_is_the_service_key_else_the_first_ops_key() -> None:
    assert AnalyticsSettings(ORDERFLOW_API_KEYS=KEYS).peer_api_key() == "ops-one"
    explicit = AnalyticsSettings(ORDERFLOW_API_KEYS=KEYS, ANALYTICS_SERVICE_API_KEY="svc")
    assert explicit.peer_api_key() == "svc"
    assert AnalyticsSettings(ORDERFLOW_API_KEYS="sys=system").peer_api_key() == ""


def _ingest(handler: httpx.MockTransport) -> IngestClient:
    client = httpx.AsyncClient(transport=handler, base_url="http://ingest.test")
    return IngestClient(client, api_key="ops-one")


async def test_ingest_client_reads_order_and_quarantine() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer ops-one"
        if request.url.path == "/v1/quarantine":
            assert request.url.params["amazon_order_id"] == "111-0000000-0000001"
            return httpx.Response(200, json={"items": [{"id": 7}], "next_cursor": None})
        return httpx.Response(404, json={"title": "Not Found"})

    view = await _ingest(httpx.MockTransport(answer)).view("111-0000000-0000001")
    assert view == IngestView(order=None, quarantine=[{"id": 7}])


async def test_ingest_client_reports_down_and_errors_as_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down = await _ingest(httpx.MockTransport(refuse)).view("x")
    assert isinstance(down, Unreachable) and "ConnectError" in down.reason
    broken = await _ingest(httpx.MockTransport(lambda r: httpx.Response(500))).view("x")
    assert broken == Unreachable("ingest answered 500/500")


async def test_peers_overview_reads_readiness_dead_letters_and_backlog_gauge() -> None:
    metrics = (
        "# TYPE orderflow_outbox_backlog gauge\n"
        'orderflow_outbox_backlog{service="fulfillment"} 12.0\n'
        "orderflow_outbox_backlog_other 5\n"
        "# TYPE orderflow_stalled gauge\n"
        'orderflow_stalled{role="relay",service="fulfillment"} 0.0\n'
        'orderflow_stalled{role="worker",service="fulfillment"} 1.0\n'
        "# TYPE orderflow_consumer_lag gauge\n"
        'orderflow_consumer_lag{service="fulfillment",topic="orders.v1"} 40.0\n'
        'orderflow_consumer_lag{service="fulfillment",topic="ads.v1"} 2.0\n'
    )

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/readyz":
            return httpx.Response(503, json={"status": "not_ready", "checks": {"kafka": "failed"}})
        if request.url.path == "/metrics":
            return httpx.Response(200, text=metrics)
        items = [{"id": 1, "subject": "111-1"}, {"id": 2, "subject": "222-2"}]
        return httpx.Response(200, json={"items": items, "next_cursor": "c"})

    peers = Peers(
        {"fulfillment": "http://f.test"},
        api_key="ops-one",
        timeout=1.0,
        transport=httpx.MockTransport(answer),
    )
    overview = await peers.overview("fulfillment")
    assert (overview["reachable"], overview["ready"]) == (True, False)
    assert overview["dead_letters"] == {"dead": 2, "more": True}
    assert overview["outbox_backlog"] == 12
    progress = overview["progress"]
    assert progress["stalled"] == {"relay": False, "worker": True}
    assert progress["consumer_lag"] == 42
    assert progress["outbox_oldest_unsent_age_s"] is None  # not exported: none said
    assert await peers.order("defects", "x") is None  # not configured
    assert await peers.dead_letters_of("fulfillment", "222-2") == [{"id": 2, "subject": "222-2"}]
    assert await peers.dead_letters_of("defects", "222-2") is None


def test_stall_view_reads_ages_and_times_since() -> None:
    metrics = (
        "# TYPE orderflow_outbox_oldest_unsent_age_seconds gauge\n"
        'orderflow_outbox_oldest_unsent_age_seconds{service="ingest"} 310.5\n'
        "# TYPE orderflow_outbox_last_success_timestamp_seconds gauge\n"
        'orderflow_outbox_last_success_timestamp_seconds{service="ingest"} 1000.0\n'
        "# TYPE orderflow_consumer_last_applied_timestamp_seconds gauge\n"
        'orderflow_consumer_last_applied_timestamp_seconds{service="ingest"} 0.0\n'
    )
    view = stall_view(metrics, now=1300.0)
    assert view["outbox_oldest_unsent_age_s"] == 310.5
    assert view["relay_last_success_s_ago"] == 300.0
    assert view["consumer_last_applied_s_ago"] is None  # never applied anything
    assert view["stalled"] == {}
    assert stall_view("not { metrics")["unreadable"] is True


async def test_dependencies_build_the_ports_and_close_ingests_client() -> None:
    settings = AnalyticsSettings(
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_SERVICE_URLS="ingest=http://ingest.test,fulfillment=http://f.test,"
        "analytics=http://self.test",
    )
    deps = Dependencies.build(settings, async_sessionmaker())
    assert isinstance(deps.ingest, IngestClient) and deps.http is not None
    assert deps.peers.names == ["fulfillment", "ingest"]  # never itself
    await deps.aclose()
    assert deps.http.is_closed


def test_without_an_ingest_url_the_trace_is_told_ingest_is_unreachable() -> None:
    settings = AnalyticsSettings(ORDERFLOW_API_KEYS=KEYS)
    deps = Dependencies.build(settings, async_sessionmaker())
    assert isinstance(deps.ingest, NoIngest) and deps.http is None
