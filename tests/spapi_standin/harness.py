"""Helpers for ingest's SP-API tests: connect a seller over REST, read orders.v1 by order."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from orderflow_testkit.harness import RunningService, eventually, read_topic
from shared import topics
from shared.messaging.envelope import CloudEvent
from spapi_standin.orders import iso
from spapi_standin.server import StandIn

SELLER_KEY = {"Authorization": "Bearer seller-key"}


def connection_body(standin: StandIn, *, sync_from: datetime, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selling_partner_id": standin.seller_id,
        "region": "NA",
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "endpoint": standin.base_url,
        "lwa_token_url": f"{standin.base_url}/auth/o2/token",
        "credentials": {
            "client_id": standin.client_id,
            "client_secret": standin.client_secret,
            "refresh_token": standin.refresh_token,
        },
        "sync_from": iso(sync_from),
    }
    return body | over


async def connect(
    svc: RunningService, standin: StandIn, *, sync_from: datetime, **over: Any
) -> dict[str, Any]:
    response = await svc.client.post(
        "/v1/connections",
        json=connection_body(standin, sync_from=sync_from, **over),
        headers=SELLER_KEY,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def outbox_sent(svc: RunningService) -> None:
    """Wait until the relay has published every outbox row (so orders.v1 holds them all)."""
    outbox = svc.resources.tables.outbox

    async def drained() -> bool:
        async with svc.resources.sessions() as session:
            stmt = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            return (await session.execute(stmt)).scalar_one() == 0

    await eventually(drained, timeout=20)


async def events_by_order(
    svc: RunningService, order_ids: set[str], *, timeout: float = 20
) -> dict[str, list[CloudEvent]]:
    """Every orders.v1 event of these orders, after the outbox has been fully relayed."""
    await outbox_sent(svc)
    wanted = {o.encode() for o in order_ids}
    records = await read_topic(
        svc.resources.settings.kafka_bootstrap_servers,
        svc.resources.settings.topic(topics.ORDERS),
        until=lambda rs: wanted <= {r.key for r in rs},
        timeout=timeout,
    )
    found: dict[str, list[CloudEvent]] = {o: [] for o in order_ids}
    for record in records:
        if record.key in wanted:
            found[record.key.decode()].append(CloudEvent.from_bytes(record.value))
    return found


def counts(events: dict[str, list[CloudEvent]]) -> Counter[int]:
    """How many orders had 1, 2, ... events."""
    return Counter(len(v) for v in events.values())
