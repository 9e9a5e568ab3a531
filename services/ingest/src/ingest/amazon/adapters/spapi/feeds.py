"""Feeds API 2021-06-30 on ``SpApiHttp``: submit a feed document, follow the feed, read its report.

The flow (Amazon's feeds use case guide; models/feeds-api-model/feeds_2021-06-30.json):
``createFeedDocument`` (a content type; answers a ``feedDocumentId`` and a presigned ``url``), a
plain ``PUT`` of the document to that url (no SP-API token: the url carries its own
authorisation, and the ``Content-Type`` must be the one given to createFeedDocument),
``createFeed`` (``feedType``, ``marketplaceIds``, ``inputFeedDocumentId``; answers a ``feedId``),
``getFeed`` until ``processingStatus`` is final (DONE, CANCELLED or FATAL; before that IN_QUEUE
or IN_PROGRESS), then ``getFeedDocument`` for its ``resultFeedDocumentId`` and a plain ``GET`` of
that url, decompressed when ``compressionAlgorithm`` is GZIP.

SP-API calls go through ``SpApiHttp`` (per seller and operation token buckets at the model's
usage plans, 429 back-off, token renewal, ``SpApiRequestError`` for other 4xx). createFeed's plan
is 0.0083/s with a burst of 15: send one feed per batch of messages, never one per action. The
presigned urls are not SP-API operations: their transport errors and 5xx are retried with the
same back-off, a 4xx (an expired url: it lasts 5 minutes) raises ``FeedTransferError``
(``documents.py``, shared with the Reports API).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingest.amazon.adapters.spapi.documents import decompressed, transfer
from ingest.amazon.adapters.spapi.http import SpApiHttp
from ingest.amazon.domain.feed_messages import (
    XML_CONTENT_TYPE,
    ProcessingReport,
    parse_processing_report,
)

BASE = "/feeds/2021-06-30"
FINAL_STATUSES = frozenset({"DONE", "CANCELLED", "FATAL"})


class FeedTransferError(Exception):
    """The presigned document url refused the upload or download (4xx): get a new document."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"feed document {what} answered {status}")
        self.status = status


class FeedNotDone(Exception):
    """The feed ended CANCELLED or FATAL, or has no result document."""

    def __init__(self, feed: Feed) -> None:
        super().__init__(f"feed {feed.feed_id} is {feed.processing_status} with no report")
        self.feed = feed


@dataclass(frozen=True)
class FeedDocument:
    feed_document_id: str
    url: str
    compression_algorithm: str | None = None


@dataclass(frozen=True)
class Feed:
    feed_id: str
    feed_type: str
    processing_status: str
    marketplace_ids: tuple[str, ...] = ()
    result_feed_document_id: str | None = None

    @property
    def final(self) -> bool:
        return self.processing_status in FINAL_STATUSES


def _document(body: dict[str, object]) -> FeedDocument:
    compression = body.get("compressionAlgorithm")
    return FeedDocument(
        feed_document_id=str(body["feedDocumentId"]),
        url=str(body["url"]),
        compression_algorithm=str(compression) if compression else None,
    )


def _feed(body: dict[str, object]) -> Feed:
    marketplaces = body.get("marketplaceIds")
    result = body.get("resultFeedDocumentId")
    return Feed(
        feed_id=str(body["feedId"]),
        feed_type=str(body.get("feedType", "")),
        processing_status=str(body["processingStatus"]),
        marketplace_ids=tuple(str(m) for m in marketplaces)
        if isinstance(marketplaces, list)
        else (),
        result_feed_document_id=str(result) if result else None,
    )


@dataclass
class FeedsClient:
    http: SpApiHttp
    clock: Callable[[], float] = time.monotonic

    async def create_feed_document(self, content_type: str = XML_CONTENT_TYPE) -> FeedDocument:
        body = await self.http.post(
            "createFeedDocument", f"{BASE}/documents", {"contentType": content_type}
        )
        return _document(body)

    async def upload(
        self, document: FeedDocument, content: bytes, content_type: str = XML_CONTENT_TYPE
    ) -> None:
        await self._transfer(
            "PUT", document.url, "upload", content=content, headers={"content-type": content_type}
        )

    async def create_feed(
        self, *, feed_type: str, marketplace_ids: Sequence[str], input_feed_document_id: str
    ) -> str:
        body = await self.http.post(
            "createFeed",
            f"{BASE}/feeds",
            {
                "feedType": feed_type,
                "marketplaceIds": list(marketplace_ids),
                "inputFeedDocumentId": input_feed_document_id,
            },
        )
        return str(body["feedId"])

    async def get_feed(self, feed_id: str) -> Feed:
        return _feed(await self.http.get("getFeed", f"{BASE}/feeds/{feed_id}", {}))

    async def get_feed_document(self, feed_document_id: str) -> FeedDocument:
        body = await self.http.get("getFeedDocument", f"{BASE}/documents/{feed_document_id}", {})
        return _document(body)

    async def download(self, document: FeedDocument) -> bytes:
        content = await self._transfer("GET", document.url, "download")
        return decompressed(content, document.compression_algorithm)

    # -- the whole flow ----------------------------------------------------------------------

    async def submit(
        self,
        *,
        feed_type: str,
        marketplace_ids: Sequence[str],
        content: bytes,
        content_type: str = XML_CONTENT_TYPE,
    ) -> str:
        """createFeedDocument, upload, createFeed: the new feed's id."""
        document = await self.create_feed_document(content_type)
        await self.upload(document, content, content_type)
        return await self.create_feed(
            feed_type=feed_type,
            marketplace_ids=marketplace_ids,
            input_feed_document_id=document.feed_document_id,
        )

    async def wait(self, feed_id: str, *, poll_seconds: float, timeout: float) -> Feed:
        """getFeed every ``poll_seconds`` until the status is final or ``timeout`` has passed
        (then the last, unfinished, feed is returned)."""
        deadline = self.clock() + timeout
        while True:
            feed = await self.get_feed(feed_id)
            if feed.final or self.clock() + poll_seconds > deadline:
                return feed
            await self.http.sleep(poll_seconds)

    async def report(self, feed: Feed) -> ProcessingReport:
        """The processing report of a DONE feed, per message."""
        if feed.processing_status != "DONE" or not feed.result_feed_document_id:
            raise FeedNotDone(feed)
        document = await self.get_feed_document(feed.result_feed_document_id)
        return parse_processing_report(await self.download(document))

    async def _transfer(
        self,
        method: str,
        url: str,
        what: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        return await transfer(
            self.http,
            method,
            url,
            what,
            refused=FeedTransferError,
            content=content,
            headers=headers,
        )
