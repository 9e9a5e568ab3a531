"""The stand-in's Feeds API 2021-06-30, as Amazon's model and order feed XSDs describe it.

``createFeedDocument`` answers a ``url`` served by the stand-in itself (``/standin-documents/{id}``
with a token in the query, like a presigned url: no SP-API token, and the upload's
``Content-Type`` must be the one the document was created with, else 403). ``createFeed`` needs an
uploaded document and starts processing after ``processing_delay`` seconds (IN_QUEUE until then,
then IN_PROGRESS, then DONE with a ``resultFeedDocumentId``, or FATAL without one for the next
``fatal`` feeds); ``getFeed`` and ``getFeedDocument``
read them, GZIP-compressed when ``compress_reports`` is set. Throttling and call records are the
server's (operations createFeedDocument, createFeed, getFeed, getFeedDocument).

Processing parses the XML (``OrderAcknowledgement`` for POST_ORDER_ACKNOWLEDGEMENT_DATA,
``OrderAdjustment`` for POST_PAYMENT_ADJUSTMENT_DATA), checks codes against the XSD enumerations,
records every message in ``messages`` and writes a ProcessingReport. A test refuses chosen
messages with ``reject(code=..., description=..., message_id=... or order_id=..., times=...)``.
A broken document answers one Error for MessageID 0 (ResultMessageCode 5000, as Amazon does for XML
parsing errors). Each finished feed calls every ``on_finished`` callback with a
FEED_PROCESSING_FINISHED notification (amzn/selling-partner-api-models:
schemas/notifications/FeedProcessingFinishedNotification.json).
"""

from __future__ import annotations

import gzip
import itertools
import secrets
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from defusedxml import ElementTree as SafeET
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from spapi_standin.server import StandIn

PLANS: dict[str, tuple[float, int]] = {
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
}
MESSAGE_TYPES = {
    "POST_ORDER_ACKNOWLEDGEMENT_DATA": "OrderAcknowledgement",
    "POST_PAYMENT_ADJUSTMENT_DATA": "OrderAdjustment",
}
# The XSD enumerations (OrderAcknowledgement.xsd, OrderAdjustment.xsd and amzn-base.xsd).
CANCEL_REASONS = {
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
}
ADJUSTMENT_REASONS = {
    "NoInventory",
    "CustomerReturn",
    "GeneralAdjustment",
    "CouldNotShip",
    "DifferentItem",
    "Abandoned",
    "CustomerCancel",
    "PriceError",
    "ProductOutofStock",
    "CustomerAddressIncorrect",
    "Exchange",
    "Other",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "TransactionRecord",
    "Undeliverable",
    "RefusedDelivery",
}
COMPONENT_TYPES = {
    "Principal",
    "Shipping",
    "Tax",
    "ShippingTax",
    "RestockingFee",
    "RestockingFeeTax",
    "GiftWrap",
    "GiftWrapTax",
    "Surcharge",
    "ReturnShipping",
    "Goodwill",
    "ExportCharge",
    "COD",
    "CODTax",
    "Other",
    "FreeReplacementReturnShipping",
}
SCHEMA_ERROR = "5000"  # the code Amazon reports for XML it cannot parse or validate


@dataclass
class Rejection:
    code: str
    description: str
    message_id: int | None = None
    order_id: str | None = None
    times: int | None = None  # None: every time
    fired: int = 0

    def take(self, message_id: int, order_id: str | None) -> bool:
        """Whether this rule refuses the message (and count it)."""
        matches = (self.message_id is None or self.message_id == message_id) and (
            self.order_id is None or self.order_id == order_id
        )
        if not matches or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class ReceivedMessage:
    """One message of a processed feed. ``detail``: for an acknowledgement ``status_code`` and
    ``items`` [{item_code, cancel_reason}]; for an adjustment ``items`` [{item_code, reason,
    components {Type: (amount, currency)}, quantity_cancelled}]."""

    feed_id: str
    feed_type: str
    marketplace_ids: tuple[str, ...]
    message_id: int
    message_type: str
    amazon_order_id: str | None
    detail: dict[str, Any]
    accepted: bool
    error: str | None = None


@dataclass
class _Document:
    content_type: str
    token: str
    seller: str
    content: bytes | None = None
    compressed: bool = False


@dataclass
class _Feed:
    feed_id: str
    feed_type: str
    marketplace_ids: tuple[str, ...]
    document_id: str
    seller: str
    created: datetime
    status: str = "IN_QUEUE"
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": list(self.marketplace_ids),
            "createdTime": _iso(self.created),
            "processingStatus": self.status,
        }
        if self.started:
            body["processingStartTime"] = _iso(self.started)
        if self.ended:
            body["processingEndTime"] = _iso(self.ended)
        if self.result_document_id:
            body["resultFeedDocumentId"] = self.result_document_id
        return body


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else None


@dataclass
class FeedsStandIn:
    server: StandIn
    processing_delay: float = 0.2
    compress_reports: bool = False
    fatal: int = 0  # how many of the next feeds end FATAL, without a processing report
    rejections: list[Rejection] = field(default_factory=list)
    on_finished: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    messages: list[ReceivedMessage] = field(default_factory=list)
    callback_errors: list[BaseException] = field(default_factory=list)
    _documents: dict[str, _Document] = field(default_factory=dict)
    _feeds: dict[str, _Feed] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(50_001_018_000))

    # -- what tests set up and read --------------------------------------------------------

    def reject(
        self,
        *,
        code: str,
        description: str,
        message_id: int | None = None,
        order_id: str | None = None,
        times: int | None = None,
    ) -> None:
        """Refuse the messages with this MessageID and/or AmazonOrderID in later feeds (``times``
        times, or always), so that a retry can be refused again or accepted."""
        with self.server._lock:
            self.rejections.append(Rejection(code, description, message_id, order_id, times))

    def clear_rejections(self) -> None:
        with self.server._lock:
            self.rejections.clear()

    def messages_of(self, order_id: str, message_type: str | None = None) -> list[ReceivedMessage]:
        with self.server._lock:
            return [
                m
                for m in self.messages
                if m.amazon_order_id == order_id
                and (message_type is None or m.message_type == message_type)
            ]

    def acknowledgements_of(self, order_id: str) -> list[ReceivedMessage]:
        return self.messages_of(order_id, "OrderAcknowledgement")

    def adjustments_of(self, order_id: str) -> list[ReceivedMessage]:
        return self.messages_of(order_id, "OrderAdjustment")

    def feed(self, feed_id: str) -> dict[str, Any] | None:
        with self.server._lock:
            found = self._feeds.get(feed_id)
            return found.body() if found else None

    def feed_count(self) -> int:
        with self.server._lock:
            return len(self._feeds)

    # -- endpoints -------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        base = "/feeds/2021-06-30"
        return [
            Route(f"{base}/documents", self.create_document, methods=["POST"]),
            Route(f"{base}/documents/{{document_id}}", self.get_document),
            Route(f"{base}/feeds", self.create_feed, methods=["POST"]),
            Route(f"{base}/feeds/{{feed_id}}", self.get_feed),
            Route("/standin-documents/{document_id}", self.upload, methods=["PUT"]),
            Route("/standin-documents/{document_id}", self.download, methods=["GET"]),
        ]

    def _invalid(self, operation: str, seller: str | None, message: str) -> Response:
        body = {"errors": [{"code": "InvalidInput", "message": message}]}
        return self.server._ok(operation, seller, body, 400)

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return {}
        return body if isinstance(body, dict) else {}

    def _url(self, document_id: str, document: _Document) -> str:
        return f"{self.server.base_url}/standin-documents/{document_id}?token={document.token}"

    async def create_document(self, request: Request) -> Response:
        operation = "createFeedDocument"
        seller, refused = self.server._gate(request, operation)
        if refused:
            return refused
        content_type = (await self._json(request)).get("contentType")
        if not isinstance(content_type, str) or not content_type:
            return self._invalid(operation, seller, "contentType is required")
        document_id = str(uuid.uuid4())
        document = _Document(content_type, secrets.token_urlsafe(16), seller or "")
        with self.server._lock:
            self._documents[document_id] = document
        body = {"feedDocumentId": document_id, "url": self._url(document_id, document)}
        return self.server._ok(operation, seller, body, 201)

    def _presigned(self, request: Request) -> _Document | None:
        with self.server._lock:
            document = self._documents.get(request.path_params["document_id"])
        if document is None or request.query_params.get("token") != document.token:
            return None
        return document

    async def upload(self, request: Request) -> Response:
        document = self._presigned(request)
        if document is None or document.compressed:
            return Response("AccessDenied", status_code=403)
        if request.headers.get("content-type") != document.content_type:
            return Response("SignatureDoesNotMatch", status_code=403)
        content = await request.body()
        with self.server._lock:
            document.content = content
        return Response(status_code=200)

    async def download(self, request: Request) -> Response:
        document = self._presigned(request)
        if document is None or document.content is None:
            return Response("AccessDenied", status_code=403)
        return Response(document.content, media_type=document.content_type)

    async def create_feed(self, request: Request) -> Response:
        operation = "createFeed"
        seller, refused = self.server._gate(request, operation)
        if refused:
            return refused
        body = await self._json(request)
        feed_type, marketplaces = body.get("feedType"), body.get("marketplaceIds")
        document_id = body.get("inputFeedDocumentId")
        if not feed_type or not isinstance(marketplaces, list) or not 1 <= len(marketplaces) <= 25:
            return self._invalid(operation, seller, "feedType and marketplaceIds are required")
        with self.server._lock:
            document = self._documents.get(str(document_id))
            if document is None or document.content is None or document.seller != seller:
                document = None
            else:
                feed = _Feed(
                    feed_id=str(next(self._ids)),
                    feed_type=str(feed_type),
                    marketplace_ids=tuple(str(m) for m in marketplaces),
                    document_id=str(document_id),
                    seller=seller or "",
                    created=datetime.now(UTC),
                )
                self._feeds[feed.feed_id] = feed
        if document is None:
            return self._invalid(operation, seller, "inputFeedDocumentId: no uploaded document")
        timer = threading.Timer(self.processing_delay, self._process, args=(feed,))
        timer.daemon = True
        timer.start()
        return self.server._ok(operation, seller, {"feedId": feed.feed_id}, 202)

    async def get_feed(self, request: Request) -> Response:
        operation = "getFeed"
        seller, refused = self.server._gate(request, operation)
        if refused:
            return refused
        with self.server._lock:
            feed = self._feeds.get(request.path_params["feed_id"])
            body = feed.body() if feed and feed.seller == seller else None
        if body is None:
            return self.server._ok(
                operation, seller, {"errors": [{"code": "NotFound", "message": "No feed"}]}, 404
            )
        return self.server._ok(operation, seller, body)

    async def get_document(self, request: Request) -> Response:
        operation = "getFeedDocument"
        seller, refused = self.server._gate(request, operation)
        if refused:
            return refused
        document_id = request.path_params["document_id"]
        with self.server._lock:
            document = self._documents.get(document_id)
        if document is None or document.seller != seller:
            return self._invalid(operation, seller, "Invalid feedDocumentId")
        body: dict[str, Any] = {
            "feedDocumentId": document_id,
            "url": self._url(document_id, document),
        }
        if document.compressed:
            body["compressionAlgorithm"] = "GZIP"
        return self.server._ok(operation, seller, body)

    # -- processing ------------------------------------------------------------------------

    def _process(self, feed: _Feed) -> None:
        with self.server._lock:
            feed.status, feed.started = "IN_PROGRESS", datetime.now(UTC)
            content = self._documents[feed.document_id].content or b""
            fatal, self.fatal = self.fatal > 0, max(self.fatal - 1, 0)
        if fatal:  # Amazon could not process the feed at all: no report, nothing recorded
            with self.server._lock:
                feed.status, feed.ended = "FATAL", datetime.now(UTC)
            self._announce(feed)
            return
        results, received = self._read(feed, content)
        report = _report(feed.seller, len(received) or 1, results)
        compressed = self.compress_reports
        document = _Document("text/xml; charset=UTF-8", secrets.token_urlsafe(16), feed.seller)
        document.content = gzip.compress(report) if compressed else report
        document.compressed = compressed
        result_id = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        time.sleep(min(0.05, self.processing_delay))  # IN_PROGRESS is observable
        with self.server._lock:
            self._documents[result_id] = document
            self.messages.extend(received)
            feed.status, feed.ended = "DONE", datetime.now(UTC)
            feed.result_document_id = result_id
        self._announce(feed)

    def _read(
        self, feed: _Feed, content: bytes
    ) -> tuple[list[tuple[int, str, str, str | None]], list[ReceivedMessage]]:
        try:
            root = SafeET.fromstring(content)
        except (ET.ParseError, ValueError) as exc:
            return [(0, SCHEMA_ERROR, f"XML Parsing Error: {exc}", None)], []
        message_type = _text(root, "MessageType") or ""
        if root.tag != "AmazonEnvelope" or message_type != MESSAGE_TYPES.get(feed.feed_type):
            error = f"MessageType {message_type} does not belong to feed type {feed.feed_type}"
            return [(0, SCHEMA_ERROR, error, None)], []
        results: list[tuple[int, str, str, str | None]] = []
        received = []
        for message in root.findall("Message"):
            number = _text(message, "MessageID") or ""
            message_id = int(number) if number.isdigit() else 0
            body = message.find(message_type)
            order_id = _text(body, "AmazonOrderID") if body is not None else None
            detail, problem = _detail(message_type, body)
            code = SCHEMA_ERROR if problem else None
            with self.server._lock:
                for rejection in self.rejections:
                    if code is None and rejection.take(message_id, order_id):
                        code, problem = rejection.code, rejection.description
            if code is not None:
                results.append((message_id, code, problem or "", order_id))
            received.append(
                ReceivedMessage(
                    feed_id=feed.feed_id,
                    feed_type=feed.feed_type,
                    marketplace_ids=feed.marketplace_ids,
                    message_id=message_id,
                    message_type=message_type,
                    amazon_order_id=order_id,
                    detail=detail,
                    accepted=code is None,
                    error=problem,
                )
            )
        return results, received

    def _announce(self, feed: _Feed) -> None:
        now = _iso(datetime.now(UTC))
        notification = {
            "notificationVersion": "2020-09-04",
            "notificationType": "FEED_PROCESSING_FINISHED",
            "payloadVersion": "2020-09-04",
            "eventTime": now,
            "payload": {
                "feedProcessingFinishedNotification": {
                    "sellerId": feed.seller,
                    "accountId": f"amzn1.merchant.o.{feed.seller}",
                    "feedId": feed.feed_id,
                    "feedType": feed.feed_type,
                    "processingStatus": feed.status,
                    "resultFeedDocumentId": feed.result_document_id,
                }
            },
            "notificationMetadata": {
                "applicationId": "amzn1.sellerapps.app.standin",
                "subscriptionId": "standin-feed-subscription",
                "publishTime": now,
                "notificationId": str(uuid.uuid4()),
            },
        }
        for callback in list(self.on_finished):
            try:
                callback(notification)
            except Exception as exc:  # a broken callback must not stop processing
                self.callback_errors.append(exc)


def _detail(message_type: str, body: ET.Element | None) -> tuple[dict[str, Any], str | None]:
    """What a message says, and the schema error Amazon would report for it (or None)."""
    if body is None or not _text(body, "AmazonOrderID"):
        return {}, f"Message has no {message_type}/AmazonOrderID"
    if message_type == "OrderAcknowledgement":
        return _acknowledgement(body)
    return _adjustment(body)


def _acknowledgement(body: ET.Element) -> tuple[dict[str, Any], str | None]:
    status = _text(body, "StatusCode")
    items = [
        {"item_code": _text(i, "AmazonOrderItemCode"), "cancel_reason": _text(i, "CancelReason")}
        for i in body.findall("Item")
    ]
    detail = {"status_code": status, "items": items}
    if status not in ("Success", "Failure"):
        return detail, f"StatusCode {status!r} is not Success or Failure"
    for item in items:
        reason = item["cancel_reason"]
        if not item["item_code"] or (reason is not None and reason not in CANCEL_REASONS):
            return detail, f"CancelReason {reason!r} is not valid"
    return detail, None


def _adjustment(body: ET.Element) -> tuple[dict[str, Any], str | None]:
    items: list[dict[str, Any]] = []
    error = None if body.findall("AdjustedItem") else "OrderAdjustment has no AdjustedItem"
    for element in body.findall("AdjustedItem"):
        components = {}
        for component in element.findall("ItemPriceAdjustments/Component"):
            amount = component.find("Amount")
            kind = _text(component, "Type") or ""
            components[kind] = (
                _text(component, "Amount"),
                amount.get("currency") if amount is not None else None,
            )
            if kind not in COMPONENT_TYPES or amount is None or not amount.get("currency"):
                error = error or f"Component {kind!r} is not valid"
        reason = _text(element, "AdjustmentReason")
        quantity = _text(element, "QuantityCancelled")
        items.append(
            {
                "item_code": _text(element, "AmazonOrderItemCode"),
                "reason": reason,
                "components": components,
                "quantity_cancelled": int(quantity) if quantity else None,
            }
        )
        if reason not in ADJUSTMENT_REASONS or not components:
            error = error or f"AdjustmentReason {reason!r} or its components are not valid"
    return {"items": items}, error


def _report(seller: str, processed: int, results: list[tuple[int, str, str, str | None]]) -> bytes:
    root = ET.Element("AmazonEnvelope")
    header = ET.SubElement(root, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.02"
    ET.SubElement(header, "MerchantIdentifier").text = seller
    ET.SubElement(root, "MessageType").text = "ProcessingReport"
    message = ET.SubElement(root, "Message")
    ET.SubElement(message, "MessageID").text = "1"
    report = ET.SubElement(message, "ProcessingReport")
    ET.SubElement(report, "DocumentTransactionID").text = str(secrets.randbelow(10**11))
    ET.SubElement(report, "StatusCode").text = "Complete"
    summary = ET.SubElement(report, "ProcessingSummary")
    failed = {m for m, *_ in results}
    errors = processed if 0 in failed else len(failed)  # MessageID 0: the whole document
    for name, value in (
        ("MessagesProcessed", processed),
        ("MessagesSuccessful", processed - errors),
        ("MessagesWithError", errors),
        ("MessagesWithWarning", 0),
    ):
        ET.SubElement(summary, name).text = str(value)
    for message_id, code, description, order_id in results:
        result = ET.SubElement(report, "Result")
        ET.SubElement(result, "MessageID").text = str(message_id)
        ET.SubElement(result, "ResultCode").text = "Error"
        ET.SubElement(result, "ResultMessageCode").text = code
        ET.SubElement(result, "ResultDescription").text = description
        if order_id:
            info = ET.SubElement(result, "AdditionalInfo")
            ET.SubElement(info, "AmazonOrderID").text = order_id
    document: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return document
