"""The audit trail across the four services, on real Kafka and PostgreSQL (docs/audit.md).

The platform and seller A's world are the tenancy module's (every service in-process, orders
flowing through Kafka); here every request the clients send is recorded. Then the writes the
world does not make are made (the rest of each claim's and order's life, connection changes,
dead-letter replays in every service). The rule is checked against the four OpenAPI
documents: every POST, PATCH, PUT and DELETE of every service must have been made with
success and have left exactly one entry naming the key that made it, so a new route that
changes something without an entry (its work committed outside the request, on another
database) fails here until it is audited, or a reason it cannot be exercised is written in
``NOT_EXERCISED``.
"""

from __future__ import annotations

import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from analytics.adapters.ingest_client import IngestClient
from analytics.adapters.peers import Peers
from orderflow_testkit.harness import RunningService
from orderflow_testkit.samples import amazon_order
from shared.messaging.envelope import CloudEvent

from .conftest import in_process_platform
from .hostile_bodies import ad_row, notification
from .test_tenancy import (
    OPS,
    OTHER,
    PEERS,
    SELLER,
    SYSTEM,
    A,
    B,
    World,
    _Routed,
)
from .test_tenancy import world as world  # a fixture, built on this module's platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# The name each key goes by (shared.api.auth: its first four characters).
KEY_NAMES = {
    "Bearer k-seller": ("k-se…", "seller", SELLER),
    "Bearer k-other": ("k-ot…", "seller", OTHER),
    "Bearer k-ops": ("k-op…", "ops", None),
    "Bearer k-sys": ("k-sy…", "system", None),
}
WRITES = ("POST", "PATCH", "PUT", "DELETE")
# Writes this platform cannot make succeed, and why (each is refused before changing anything).
NOT_EXERCISED = {
    ("ingest", "POST", "/v1/connections/{connection_id}/subscriptions"): (
        "needs Amazon's notification API and an SQS queue: 409 without SQS_QUEUE_URL"
    ),
    ("ingest", "POST", "/v1/amazon/shipment-confirmations/{confirmation_id}/retry"): (
        "retries a confirmation Amazon refused; none fails here (409 unless failed)"
    ),
    ("ingest", "POST", "/v1/amazon/submissions/{submission_id}/retry"): (
        "retries a submission Amazon refused; none fails here (409 unless failed)"
    ),
}


@dataclass(frozen=True)
class Sent:
    service: str
    method: str
    path: str
    status: int
    correlation_id: str
    authorization: str


@pytest.fixture(scope="module")
def sent() -> list[Sent]:
    return []


@pytest.fixture(scope="module")
async def platform(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str, sent: list[Sent]
) -> AsyncIterator[dict[str, RunningService]]:
    """The tenancy module's platform, with every write any client sends recorded."""
    async with contextlib.AsyncExitStack() as stack:
        running = await stack.enter_async_context(
            in_process_platform(
                make_database,
                kafka_bootstrap=kafka_bootstrap,
                prefix=f"{topic_prefix}aud{secrets.token_hex(3)}.",
                roles=("worker", "relay"),
                RATE_LIMIT_PER_SECOND=100_000,
                RATE_LIMIT_BURST=100_000,
            )
        )
        routed = _Routed({n: httpx.ASGITransport(app=running[n].app) for n in PEERS})
        ingest_http = await stack.enter_async_context(
            httpx.AsyncClient(transport=routed, base_url="http://ingest", timeout=30)
        )
        analytics = running["analytics"].resources.deps
        analytics.ingest = IngestClient(ingest_http, api_key="k-ops")
        analytics.peers = Peers(
            {n: f"http://{n}" for n in PEERS}, api_key="k-ops", timeout=30, transport=routed
        )
        for name, service in running.items():
            service.client.event_hooks["response"].append(_recorder(name, sent))
        yield running


def _recorder(service: str, sent: list[Sent]) -> Callable[[httpx.Response], Any]:
    async def record(response: httpx.Response) -> None:
        request = response.request
        if request.method in WRITES:
            sent.append(
                Sent(
                    service,
                    request.method,
                    request.url.path,
                    response.status_code,
                    response.headers.get("x-correlation-id", ""),
                    request.headers.get("authorization", ""),
                )
            )

    return record


async def _ok(response: httpx.Response, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201, 202, 204)), (
        response.request.method,
        response.request.url,
        response.text,
    )
    return response.json() if response.content else None


async def _rest_of_the_writes(w: World) -> None:
    """The writes the tenancy world does not make, each made once with success."""
    ingest, fulfillment, defects = (w.client(s) for s in ("ingest", "fulfillment", "defects"))
    oid, connection = w.ids["order"], w.ids["connection"]
    await _ok(await ingest.post("/v1/orders/batch", json={"orders": [amazon_order()]}, headers=A))
    await _ok(await ingest.post("/v1/ads/performance", json={"rows": [ad_row()]}, headers=A))
    for action in ("pause", "resume"):
        await _ok(await ingest.post(f"/v1/connections/{connection}/{action}", headers=A))
    await _ok(await ingest.delete(f"/v1/connections/{connection}", headers=A), 204)
    # An ORDER_CHANGE for a selling partner nobody connected: quarantined (a change: 404).
    await _ok(
        await ingest.post("/v1/notifications/sp-api", json=notification(), headers=SYSTEM), 404
    )

    shipment = w.ids["shipment"]
    patch = {"tracking_number": "1Z999AA10123456785"}
    await _ok(
        await fulfillment.patch(f"/v1/orders/{oid}/shipments/{shipment}", json=patch, headers=A)
    )
    scan = {
        "carrier_code": "UPS",
        "tracking_number": patch["tracking_number"],
        "status": "in_transit",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    await _ok(await fulfillment.post("/v1/tracking-events", json=scan, headers=A))
    receipt = f"/v1/orders/{oid}/returns/{w.ids['return']}/receipt"
    await _ok(await fulfillment.post(receipt, json={"refund": True}, headers=A))
    refund = {"reason": "GeneralAdjustment"}
    await _ok(await fulfillment.post(f"/v1/orders/{oid}/refunds", json=refund, headers=A))
    theirs = w.ids["b_order"]
    now = datetime.now(UTC)
    pickup = {
        "carrier_code": "UPS",
        "window_start": (now + timedelta(hours=1)).isoformat(),
        "window_end": (now + timedelta(hours=4)).isoformat(),
    }
    await _ok(await fulfillment.post(f"/v1/orders/{theirs}/pickup", json=pickup, headers=B))
    cancel = {"reason": "NoInventory"}
    await _ok(await fulfillment.post(f"/v1/orders/{theirs}/cancellation", json=cancel, headers=B))

    claim = f"/v1/claims/{w.ids['claim']}"
    for step, body in (
        ("review", {"note": "please review"}),  # the world responded to it
        ("information-requests", {"note": "photos?"}),
        ("decision", {"decision": "granted_seller_funded"}),
        ("appeal", {"text": "we delivered"}),
        ("appeal-decision", {"outcome": "overturned"}),
    ):
        await _ok(await defects.post(f"{claim}/{step}", json=body, headers=A))
    feedback = f"/v1/feedback/{w.ids['feedback']}"
    await _ok(
        await defects.post(f"{feedback}/removal-request", json={"reason": "a review"}, headers=A)
    )
    await _ok(await defects.post(f"{feedback}/removal", json={"outcome": "removed"}, headers=A))

    for name, running in w.services.items():
        one, two = await _dead_letters(running, 2)
        await _ok(await w.client(name).post(f"/v1/dead-letters/{one}/replay", headers=OPS))
        await _ok(await w.client(name).post("/v1/dead-letters/replay", headers=OPS))
        assert two


async def _dead_letters(service: RunningService, count: int) -> list[int]:
    """Messages the service gave up on (bytes no consumer can read), as operators find them."""
    topic = service.resources.settings.topic(service.spec.subscribes[0])
    ids = []
    async with service.resources.sessions() as session, session.begin():
        for offset in range(count):
            row = await session.execute(
                text(
                    "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, payload,"
                    " error_type, error_message, attempts) VALUES (:t, 0, :o, 'not json', 'E',"
                    " 'e', 3) RETURNING id"
                ),
                {"t": topic, "o": offset},
            )
            ids.append(int(row.scalar_one()))
    return ids


async def _entries(service: RunningService) -> list[Any]:
    table = service.resources.tables.audit_log
    async with service.resources.sessions() as session:
        return list((await session.execute(select(table).order_by(table.c.id))).all())


def _writes(service: RunningService) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in service.app.openapi()["paths"].items()
        for method in item
        if method.upper() in WRITES
    }


async def test_each_change_in_every_service_is_one_entry_naming_its_key(
    world: World, sent: list[Sent]
) -> None:
    await _rest_of_the_writes(world)
    wrong: list[str] = []
    for name, service in world.services.items():
        entries = await _entries(service)
        by_request = Counter(e.correlation_id for e in entries)
        of_request = {e.correlation_id: e for e in entries}
        for request in (s for s in sent if s.service == name and 200 <= s.status < 300):
            where = f"{name} {request.method} {request.path} ({request.status})"
            if by_request[request.correlation_id] != 1:
                wrong.append(f"{where}: {by_request[request.correlation_id]} entries")
                continue
            entry = of_request[request.correlation_id]
            who = (entry.key_name, entry.role, entry.seller_id)
            if who != KEY_NAMES[request.authorization] or entry.method != request.method:
                wrong.append(f"{where}: entry {who} {entry.method}")
        audited = {(e.method, e.path) for e in entries}
        for method, path in sorted(_writes(service) - audited):
            if (name, method, path) not in NOT_EXERCISED:
                wrong.append(f"{name} {method} {path}: no entry (not audited, or not exercised)")
    assert not wrong, "\n".join(wrong)


async def test_a_change_that_committed_a_refusal_says_so(world: World, sent: list[Sent]) -> None:
    """Ingest keeps refused input in quarantine: that is a change, with the refusal's status."""
    quarantined = [s for s in sent if s.path == "/v1/notifications/sp-api" and s.status == 404]
    assert quarantined
    entries = {e.correlation_id: e for e in await _entries(world.services["ingest"])}
    entry = entries[quarantined[0].correlation_id]
    assert (entry.outcome, entry.status_code, entry.role) == ("quarantined", 404, "system")
    hijack = [s for s in sent if s.path == "/v1/orders" and s.status == 409]
    assert hijack  # seller B sent one of A's order ids (the tenancy world)
    entry = entries[hijack[0].correlation_id]
    assert (entry.outcome, entry.status_code, entry.seller_id) == ("quarantined", 409, OTHER)


async def test_a_seller_reads_its_own_entries_in_every_service_and_never_another_sellers(
    world: World,
) -> None:
    for name in world.services:
        mine = (await world.client(name).get("/v1/audit", params={"limit": 200}, headers=A)).json()
        theirs = (
            await world.client(name).get("/v1/audit", params={"limit": 200}, headers=B)
        ).json()
        everyone = (
            await world.client(name).get("/v1/audit", params={"limit": 200}, headers=OPS)
        ).json()
        assert {e["seller_id"] for e in mine["items"]} <= {SELLER}, name
        assert {e["seller_id"] for e in theirs["items"]} <= {OTHER}, name
        ids = {e["id"] for e in everyone["items"]}
        assert {e["id"] for e in mine["items"] + theirs["items"]} <= ids, name
        if name != "analytics":  # analytics' only writes are ops' dead-letter replays
            assert mine["items"], name
        narrowed = await world.client(name).get("/v1/audit", headers={**OPS, "X-Seller-Id": OTHER})
        assert {e["seller_id"] for e in narrowed.json()["items"]} <= {OTHER}, name
        spoofed = await world.client(name).get("/v1/audit", headers={**B, "X-Seller-Id": SELLER})
        assert spoofed.status_code == 403, name


async def test_the_events_a_change_causes_name_its_actor(world: World, sent: list[Sent]) -> None:
    """Each event with an actor was made by an audited request of its own service and names
    that request's key (the request of its correlation id, where it has one); an order taken,
    a shipment confirmed and a claim filed by seller A each announce A's key."""
    seen: dict[str, set[str]] = {}
    for name, service in world.services.items():
        entries = {e.correlation_id: e for e in await _entries(service)}
        outbox = service.resources.tables.outbox
        async with service.resources.sessions() as session:
            payloads = (await session.execute(select(outbox.c.payload))).scalars().all()
        for raw in payloads:
            with contextlib.suppress(ValueError):
                event = CloudEvent.from_bytes(raw)
                if event.actorkey is None:
                    continue
                who = (event.actorkey, event.actorrole)
                if event.correlationid:
                    entry = entries.get(event.correlationid)
                    assert entry is not None, (name, event.type, event.correlationid)
                    assert who == (entry.key_name, entry.role), (name, event.type)
                else:  # defects' events carry no correlation id
                    assert who in {(e.key_name, e.role) for e in entries.values()}, name
                if event.actorkey == "k-se…":
                    seen.setdefault(name, set()).add(event.type)
    assert "order.created" in seen.get("ingest", set()), seen
    assert seen.get("fulfillment") and seen.get("defects"), seen
