"""The Feeds client without a network (httpx.MockTransport): presigned transfers retried on 5xx
and refused on 4xx, GZIP reports, and feeds that end without a report."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import httpx
import pytest

from ingest.amazon.adapters.spapi.feeds import (
    Feed,
    FeedDocument,
    FeedNotDone,
    FeedsClient,
    FeedTransferError,
)
from ingest.amazon.adapters.spapi.http import Buckets, RetryPolicy, SpApiHttp, TokenCache
from ingest.amazon.domain.connections import Credentials

pytestmark = pytest.mark.unit

REPORT = (
    b"<AmazonEnvelope><Message><MessageID>1</MessageID><ProcessingReport>"
    b"<StatusCode>Complete</StatusCode><ProcessingSummary><MessagesProcessed>1</MessagesProcessed>"
    b"<MessagesSuccessful>1</MessagesSuccessful><MessagesWithError>0</MessagesWithError>"
    b"<MessagesWithWarning>0</MessagesWithWarning></ProcessingSummary>"
    b"</ProcessingReport></Message></AmazonEnvelope>"
)


async def _no_sleep(_: float) -> None:
    return None


def _feeds(handler: Callable[[httpx.Request], httpx.Response]) -> FeedsClient:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    http = SpApiHttp(
        client=client,
        base_url="https://sellingpartnerapi-na.amazon.com",
        token_url="https://api.amazon.com/auth/o2/token",
        credentials=Credentials("id", "secret", "refresh"),
        selling_partner_id="A2SELLER1EXAMPLE",
        buckets=Buckets(scale=1000, sleep=_no_sleep),
        tokens=TokenCache(),
        retry=RetryPolicy(max_attempts=3, base_seconds=0.0, cap_seconds=0.0),
        sleep=_no_sleep,
    )
    return FeedsClient(http)


def _lwa_or(
    answer: Callable[[httpx.Request], httpx.Response],
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            return httpx.Response(200, json={"access_token": "Atza|x", "expires_in": 3600})
        return answer(request)

    return handler


async def test_upload_retries_a_5xx_sends_no_sp_api_token_and_refuses_on_4xx() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) == 1 else 200)

    feeds = _feeds(_lwa_or(answer))
    await feeds.upload(FeedDocument("doc-1", "https://tortuga.example/doc-1?sig=1"), b"<x/>")
    assert [r.method for r in seen] == ["PUT", "PUT"]
    assert seen[1].headers["content-type"] == "text/xml; charset=UTF-8"
    assert "x-amz-access-token" not in seen[1].headers

    expired = _feeds(_lwa_or(lambda _: httpx.Response(403)))
    with pytest.raises(FeedTransferError) as refused:
        await expired.upload(FeedDocument("doc-1", "https://tortuga.example/doc-1"), b"<x/>")
    assert refused.value.status == 403


async def test_report_downloads_and_gunzips_the_result_document() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/feeds/2021-06-30/documents/result-1":
            return httpx.Response(
                200,
                json={
                    "feedDocumentId": "result-1",
                    "url": "https://tortuga.example/result-1",
                    "compressionAlgorithm": "GZIP",
                },
            )
        assert request.url.host == "tortuga.example"
        return httpx.Response(200, content=gzip.compress(REPORT))

    feeds = _feeds(_lwa_or(answer))
    done = Feed("1", "POST_ORDER_ACKNOWLEDGEMENT_DATA", "DONE", result_feed_document_id="result-1")
    report = await feeds.report(done)
    assert report.outcome(1).accepted and report.summary.successful == 1


async def test_a_feed_without_a_report_says_so() -> None:
    feeds = _feeds(_lwa_or(lambda _: httpx.Response(500)))
    for status in ("FATAL", "CANCELLED", "IN_PROGRESS"):
        with pytest.raises(FeedNotDone):
            await feeds.report(Feed("1", "POST_PAYMENT_ADJUSTMENT_DATA", status))
    assert Feed("1", "x", "FATAL").final and not Feed("1", "x", "IN_QUEUE").final


async def test_wait_polls_get_feed_until_the_status_is_final() -> None:
    statuses = iter(["IN_QUEUE", "IN_PROGRESS", "DONE"])

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/feeds/2021-06-30/feeds/77"
        body = {"feedId": "77", "feedType": "POST_PAYMENT_ADJUSTMENT_DATA"}
        return httpx.Response(200, json=body | {"processingStatus": next(statuses)})

    feeds = _feeds(_lwa_or(answer))
    feed = await feeds.wait("77", poll_seconds=0.0, timeout=5)
    assert feed.processing_status == "DONE"
