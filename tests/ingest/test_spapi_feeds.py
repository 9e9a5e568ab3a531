"""The Feeds client against the SP-API stand-in over HTTP: documents, upload, feeds, processing
reports per message (one refused), compression, and createFeed's rate obeyed."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from spapi_standin.server import StandIn

from ingest.amazon.adapters.spapi.feeds import FeedDocument, FeedsClient, FeedTransferError
from ingest.amazon.adapters.spapi.http import Buckets, RetryPolicy, SpApiHttp, TokenCache
from ingest.amazon.domain.connections import Credentials
from ingest.amazon.domain.feed_messages import (
    ORDER_ACKNOWLEDGEMENT_FEED,
    PAYMENT_ADJUSTMENT_FEED,
    AdjustedItem,
    Component,
    OrderAdjustment,
    OrderCancellation,
    acknowledgement_feed,
    adjustment_feed,
)

pytestmark = pytest.mark.integration

MARKETPLACE = "ATVPDKIKX0DER"


def _client(
    standin: StandIn, client: httpx.AsyncClient, *, scale: float, attempts: int = 6
) -> FeedsClient:
    http = SpApiHttp(
        client=client,
        base_url=standin.base_url,
        token_url=f"{standin.base_url}/auth/o2/token",
        credentials=Credentials(standin.client_id, standin.client_secret, standin.refresh_token),
        selling_partner_id=standin.seller_id,
        buckets=Buckets(scale=scale),
        tokens=TokenCache(),
        retry=RetryPolicy(max_attempts=attempts, base_seconds=0.05, cap_seconds=2.0),
    )
    return FeedsClient(http)


def _cancellations(*orders: str) -> bytes:
    return acknowledgement_feed(
        "A2SELLER1EXAMPLE",
        [
            OrderCancellation(n, order, "NoInventory", (f"{n}0000000000001", f"{n}0000000000002"))
            for n, order in enumerate(orders, start=1)
        ],
    )


async def test_round_trip_with_one_message_refused(make_standin: Callable[..., StandIn]) -> None:
    standin = make_standin(scale=1000)
    standin.feeds.processing_delay = 0.3
    standin.feeds.compress_reports = True
    standin.feeds.reject(
        order_id="111-0000000-0000002",
        code="18021",
        description="The order is already shipped and cannot be cancelled.",
        times=1,
    )
    finished: list[dict[str, Any]] = []
    standin.feeds.on_finished.append(finished.append)
    refund = OrderAdjustment(
        1,
        "111-0000000-0000009",
        "USD",
        (
            AdjustedItem(
                "90000000000001",
                "CustomerReturn",
                (Component("Principal", Decimal("19.99")), Component("Tax", Decimal("1.00"))),
            ),
            AdjustedItem(
                "90000000000002",
                "NoInventory",
                (Component("Principal", Decimal("19.99")),),
                quantity_cancelled=1,
            ),
        ),
    )
    async with httpx.AsyncClient() as client:
        feeds = _client(standin, client, scale=1000)
        ack_id = await feeds.submit(
            feed_type=ORDER_ACKNOWLEDGEMENT_FEED,
            marketplace_ids=[MARKETPLACE],
            content=_cancellations(
                "111-0000000-0000001", "111-0000000-0000002", "111-0000000-0000003"
            ),
        )
        adj_id = await feeds.submit(
            feed_type=PAYMENT_ADJUSTMENT_FEED,
            marketplace_ids=[MARKETPLACE],
            content=adjustment_feed("A2SELLER1EXAMPLE", [refund]),
        )
        assert (await feeds.get_feed(ack_id)).processing_status == "IN_QUEUE"
        ack = await feeds.wait(ack_id, poll_seconds=0.05, timeout=10)
        adj = await feeds.wait(adj_id, poll_seconds=0.05, timeout=10)
        assert (ack.processing_status, adj.processing_status) == ("DONE", "DONE")
        assert ack.marketplace_ids == (MARKETPLACE,)
        ack_report = await feeds.report(ack)
        adj_report = await feeds.report(adj)

    outcomes = ack_report.outcomes([1, 2, 3])
    assert [outcomes[n].accepted for n in (1, 2, 3)] == [True, False, True]
    assert outcomes[2].message_code == "18021"
    assert outcomes[2].description == "The order is already shipped and cannot be cancelled."
    assert ack_report.summary.with_error == 1 and ack_report.summary.successful == 2
    assert adj_report.outcome(1).accepted

    [received] = standin.feeds.acknowledgements_of("111-0000000-0000001")
    assert received.accepted and received.marketplace_ids == (MARKETPLACE,)
    assert received.detail["status_code"] == "Failure"
    assert {i["cancel_reason"] for i in received.detail["items"]} == {"NoInventory"}
    [adjusted] = standin.feeds.adjustments_of("111-0000000-0000009")
    first, second = adjusted.detail["items"]
    assert first["components"] == {"Principal": ("19.99", "USD"), "Tax": ("1.00", "USD")}
    assert (second["reason"], second["quantity_cancelled"]) == ("NoInventory", 1)

    notified = {n["payload"]["feedProcessingFinishedNotification"]["feedId"] for n in finished}
    assert notified == {ack_id, adj_id}
    assert standin.feeds.callback_errors == []

    async with httpx.AsyncClient() as client:  # the refused one, sent again, is accepted
        feeds = _client(standin, client, scale=1000)
        retry_id = await feeds.submit(
            feed_type=ORDER_ACKNOWLEDGEMENT_FEED,
            marketplace_ids=[MARKETPLACE],
            content=_cancellations("111-0000000-0000002"),
        )
        retried = await feeds.report(await feeds.wait(retry_id, poll_seconds=0.05, timeout=10))
    assert retried.outcome(1).accepted
    assert [m.accepted for m in standin.feeds.acknowledgements_of("111-0000000-0000002")] == [
        False,
        True,
    ]


async def test_a_broken_document_refuses_every_message(
    make_standin: Callable[..., StandIn],
) -> None:
    standin = make_standin(scale=1000)
    standin.feeds.processing_delay = 0.05
    async with httpx.AsyncClient() as client:
        feeds = _client(standin, client, scale=1000)
        feed_id = await feeds.submit(
            feed_type=PAYMENT_ADJUSTMENT_FEED,  # an acknowledgement sent as an adjustment feed
            marketplace_ids=[MARKETPLACE],
            content=_cancellations("111-0000000-0000001"),
        )
        report = await feeds.report(await feeds.wait(feed_id, poll_seconds=0.05, timeout=10))
    outcome = report.outcome(1)
    assert not outcome.accepted and outcome.message_code == "5000"


async def test_the_presigned_url_refuses_another_content_type(
    make_standin: Callable[..., StandIn],
) -> None:
    standin = make_standin(scale=1000)
    async with httpx.AsyncClient() as client:
        feeds = _client(standin, client, scale=1000)
        document = await feeds.create_feed_document()
        with pytest.raises(FeedTransferError) as refused:
            await feeds.upload(document, b"a\tb", "text/tab-separated-values; charset=UTF-8")
        assert refused.value.status == 403
        forged = FeedDocument(document.feed_document_id, document.url + "x")
        with pytest.raises(FeedTransferError):
            await feeds.upload(forged, b"<x/>")


async def test_create_feed_waits_for_its_bucket(
    make_standin: Callable[..., StandIn],
) -> None:
    scale = 600.0  # createFeed: 0.0083/s becomes ~5/s, burst 15 as Amazon's plan
    standin = make_standin(scale=scale)
    standin.feeds.processing_delay = 0.05
    async with httpx.AsyncClient() as client:
        feeds = _client(standin, client, scale=scale)
        started = time.monotonic()
        for n in range(20):  # one sender per seller sends its feeds one after the other
            await feeds.submit(
                feed_type=ORDER_ACKNOWLEDGEMENT_FEED,
                marketplace_ids=[MARKETPLACE],
                content=_cancellations(f"111-0000000-{n:07d}"),
            )
        elapsed = time.monotonic() - started
    assert standin.feeds.feed_count() == 20
    # A request beyond the plan is an excess of 1; the stand-in stamps each record when its
    # handler runs, so on a busy machine two stamps can sit a little closer than the sends.
    assert standin.max_excess("createFeed") < 0.5
    # The client paces at exactly Amazon's rate on its own clock: a request whose trip is a few
    # milliseconds shorter than the first one's can land a hair early and is retried, never more.
    assert len(standin.requests_of("createFeed", 429)) <= 1
    assert elapsed >= 5 / (0.0083 * scale)  # the five beyond the burst waited their turn


async def test_a_smaller_plan_at_amazon_is_obeyed_after_its_429(
    make_standin: Callable[..., StandIn],
) -> None:
    scale = 600.0
    standin = make_standin(scale=scale, burst={"createFeed": 3})  # another process used the rest
    standin.feeds.processing_delay = 0.05
    async with httpx.AsyncClient() as client:
        feeds = _client(standin, client, scale=scale, attempts=10)
        for n in range(6):
            await feeds.submit(
                feed_type=ORDER_ACKNOWLEDGEMENT_FEED,
                marketplace_ids=[MARKETPLACE],
                content=_cancellations(f"222-0000000-{n:07d}"),
            )
    assert standin.feeds.feed_count() == 6
    assert len(standin.requests_of("createFeed", 429)) <= 2
