"""Amazon order feeds as XML: cancellations, adjustments, and the processing report; pure.

Two feed types carry what a seller does to an MFN order after it arrives:

- ``POST_ORDER_ACKNOWLEDGEMENT_DATA``: one ``OrderAcknowledgement`` message per order; with
  ``StatusCode`` ``Failure`` and a ``CancelReason`` on each ``Item`` it cancels the order.
- ``POST_PAYMENT_ADJUSTMENT_DATA``: one ``OrderAdjustment`` message per order, one
  ``AdjustedItem`` per item with an ``AdjustmentReason``, the refunded price components
  (``ItemPriceAdjustments/Component`` with ``Type`` and ``Amount currency=...``) and, for a partial
  cancel, ``QuantityCancelled``.

Both are wrapped in an ``AmazonEnvelope`` (``Header/DocumentVersion``,
``Header/MerchantIdentifier``, ``MessageType``, then ``Message`` elements, each with its
``MessageID``). Amazon answers a feed with a ``ProcessingReport`` (``ProcessingSummary`` counts and
one ``Result`` per message with an error or a warning); ``parse_processing_report`` turns it into
one outcome per ``MessageID``.

Sources (every element name and code below comes from these). Amazon's XSD host was not reachable
from here, so the XSD texts were read where public code quotes them or was generated from them.
XSD below stands for https://images-na.ssl-images-amazon.com/images/G/01/rainier/help/xsd/.

- FTV / OFTV: https://developer-docs.amazon.com/sp-api/docs/feed-type-values and
  .../order-feed-type-values: POST_ORDER_ACKNOWLEDGEMENT_DATA (acknowledge or cancel orders) and
  POST_PAYMENT_ADJUSTMENT_DATA (refunds) are supported XML order feeds (see
  shared/docs/amazon-orders.md 3.3).
- ACK-XSD: XSD + release_1_9/OrderAcknowledgement.xsd (quoted verbatim, with Amazon's example
  envelope, DocumentVersion 1.01, in OrderAcknowledgementFeedBuilder.cs of a public C# client):
  ``OrderAcknowledgement`` = ``AmazonOrderID``, ``MerchantOrderID``?, ``StatusCode``
  (Success|Failure), ``Item``* = ``AmazonOrderItemCode``, ``MerchantOrderItemID``?,
  ``CancelReason``? in {NoInventory, ShippingAddressUndeliverable, CustomerExchange, BuyerCanceled,
  GeneralAdjustment, CarrierCreditDecision, RiskAssessmentInformationNotValid,
  CarrierCoverageFailure, CustomerReturn, MerchandiseNotReceived}. The MWS Order Acknowledgement
  reference, mirrored at https://suitebridge.bspny.us/Help/ResourceModel?modelName=
  SuiteBridge.Models.AmazonMWS.OrderAcknowledgementItem, lists the same ten values for
  CancelReason, "Used only when sending a StatusCode of Failure".
- ADJ-XSD: XSD + release_1_9/OrderAdjustment.xsd and amzn-base.xsd (classes generated from them by
  xsd.exe and JAXB in public repositories):
  ``AdjustedItem`` = ``AmazonOrderItemCode``, ``MerchantOrderItemID``?,
  ``MerchantAdjustmentItemID``?, ``AdjustmentReason``, ``ItemPriceAdjustments`` (BuyerPrice:
  ``Component``+ = ``Type``, ``Amount`` with a ``currency`` attribute), ``PromotionAdjustments``*,
  ``DirectPaymentAdjustments``?, ``QuantityCancelled``? (positiveInteger). ``AdjustmentReason`` in
  {NoInventory, CustomerReturn, GeneralAdjustment, CouldNotShip, DifferentItem, Abandoned,
  CustomerCancel, PriceError, ProductOutofStock, CustomerAddressIncorrect, Exchange, Other,
  CarrierCreditDecision, RiskAssessmentInformationNotValid, CarrierCoverageFailure,
  TransactionRecord, Undeliverable, RefusedDelivery}; component ``Type`` in {Principal, Shipping,
  Tax, ShippingTax, RestockingFee, RestockingFeeTax, GiftWrap, GiftWrapTax, Surcharge,
  ReturnShipping, Goodwill, ExportCharge, COD, CODTax, Other, FreeReplacementReturnShipping}.
- ADJ-DOC: the MWS Order Adjustment feed description (mirrored at
  https://suitebridge.bspny.us/Help/Api/POST-api-mws-orders-OrderAdjustment): the adjustment is
  "broken out by price component (principle, shipping, tax, and so on)", the net amount "must be a
  credit to the buyer" (amounts are positive for money returned to the buyer), items that cannot be
  shipped are cancelled with a quantity cancelled, and "To cancel an entire order, use the Order
  Acknowledgement not the Order Adjustment".
- REPORT: Amazon's ProcessingReport as returned for feeds (examples in public test fixtures):
  ``ProcessingReport`` = ``DocumentTransactionID``, ``StatusCode`` (Complete),
  ``ProcessingSummary`` (``MessagesProcessed``, ``MessagesSuccessful``, ``MessagesWithError``,
  ``MessagesWithWarning``), ``Result``* = ``MessageID``, ``ResultCode`` (Error|Warning),
  ``ResultMessageCode``, ``ResultDescription``, ``AdditionalInfo``? (``AmazonOrderID``, ``SKU``);
  a ``Result`` with ``MessageID`` 0 concerns the whole document (e.g. 5000 "XML Parsing Error").
- CR: https://sellercentral.amazon.co.uk/gp/help/external/help.html?itemID=200285210 :
  buyer-requested cancellations do not count toward the Cancellation Rate; they are sent as
  BuyerCanceled.

Not confirmed, so not used: ``PricingError`` (a cancel reason Seller Central offers, and one of
fulfillment's cancel reasons) is not in the release_1_9 CancelReason enumeration above; a value
outside the XSD fails the whole feed, so it is sent as GeneralAdjustment. ``BuyerCanceled`` is not
an ``AdjustmentReason``; a buyer's partial cancel is sent as CustomerCancel. The ``ActionType``
element seen in newer OrderAdjustment examples is optional and not sent. The MWS text says a
quantity cancel takes NoInventory or a buyer cancellation as its reason; other seller reasons for
a partial cancel are sent as CouldNotShip, which that text does not confirm.

Errors: ``InvalidFeedMessage`` (a message Amazon's schema would refuse) and
``InvalidProcessingReport`` (a report that is not a ProcessingReport), both ``ValueError``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from defusedxml import ElementTree as SafeET

ORDER_ACKNOWLEDGEMENT_FEED = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
PAYMENT_ADJUSTMENT_FEED = "POST_PAYMENT_ADJUSTMENT_DATA"
XML_CONTENT_TYPE = "text/xml; charset=UTF-8"
DOCUMENT_VERSION = "1.01"
MESSAGE_TYPES = {
    ORDER_ACKNOWLEDGEMENT_FEED: "OrderAcknowledgement",
    PAYMENT_ADJUSTMENT_FEED: "OrderAdjustment",
}

CANCEL_REASONS = frozenset(
    {
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
)
ADJUSTMENT_REASONS = frozenset(
    {
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
)
COMPONENT_TYPES = frozenset(
    {
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
)

# A seller's cancel reason (fulfillment's CANCEL_REASONS) -> Amazon's CancelReason.
_SELLER_CANCEL_REASONS = {
    "NoInventory": "NoInventory",
    "ShippingAddressUndeliverable": "ShippingAddressUndeliverable",
    "CustomerExchange": "CustomerExchange",
    "BuyerCanceled": "BuyerCanceled",
    "GeneralAdjustment": "GeneralAdjustment",
    "CarrierCoverageFailure": "CarrierCoverageFailure",
    "PricingError": "GeneralAdjustment",  # not in the XSD enumeration (see the docstring)
}


class InvalidFeedMessage(ValueError):
    """A message Amazon's schema would refuse; building the feed stops before anything is sent."""


class InvalidProcessingReport(ValueError):
    """The document is not an Amazon ProcessingReport."""


def cancel_reason(seller_reason: str, *, buyer_requested: bool) -> str:
    """Amazon's CancelReason for a whole-order cancellation; a buyer's request is BuyerCanceled,
    which keeps it out of the seller's Cancellation Rate."""
    if buyer_requested:
        return "BuyerCanceled"
    try:
        return _SELLER_CANCEL_REASONS[seller_reason]
    except KeyError:
        raise InvalidFeedMessage(f"no Amazon cancel reason for {seller_reason!r}") from None


def partial_cancel_reason(seller_reason: str, *, buyer_requested: bool) -> str:
    """Amazon's AdjustmentReason for cancelling some units of an item (``QuantityCancelled``)."""
    if buyer_requested or seller_reason == "BuyerCanceled":
        return "CustomerCancel"
    if seller_reason == "NoInventory":
        return "NoInventory"
    return "CouldNotShip"


@dataclass(frozen=True)
class OrderCancellation:
    """An ``OrderAcknowledgement`` with ``StatusCode`` Failure: the whole order is cancelled."""

    message_id: int
    amazon_order_id: str
    reason: str
    item_codes: tuple[str, ...]

    def __post_init__(self) -> None:
        _positive("MessageID", self.message_id)
        _present("AmazonOrderID", self.amazon_order_id)
        if self.reason not in CANCEL_REASONS:
            raise InvalidFeedMessage(f"{self.reason!r} is not an Amazon CancelReason")
        if not self.item_codes or not all(self.item_codes):
            raise InvalidFeedMessage("a cancellation names every AmazonOrderItemCode")


@dataclass(frozen=True)
class Component:
    type: str
    amount: Decimal

    def __post_init__(self) -> None:
        if self.type not in COMPONENT_TYPES:
            raise InvalidFeedMessage(f"{self.type!r} is not an Amazon price component Type")
        exponent = self.amount.as_tuple().exponent
        if not self.amount.is_finite() or (isinstance(exponent, int) and exponent < -2):
            raise InvalidFeedMessage(f"{self.type} amount {self.amount} has more than 2 decimals")


@dataclass(frozen=True)
class AdjustedItem:
    amazon_order_item_code: str
    reason: str
    components: tuple[Component, ...]
    quantity_cancelled: int | None = None
    merchant_adjustment_item_id: str | None = None

    def __post_init__(self) -> None:
        _present("AmazonOrderItemCode", self.amazon_order_item_code)
        if self.reason not in ADJUSTMENT_REASONS:
            raise InvalidFeedMessage(f"{self.reason!r} is not an Amazon AdjustmentReason")
        if not self.components:
            raise InvalidFeedMessage("ItemPriceAdjustments needs at least one Component")
        if self.quantity_cancelled is not None:
            _positive("QuantityCancelled", self.quantity_cancelled)


@dataclass(frozen=True)
class OrderAdjustment:
    """Refunds and partial cancels of one order, in the order's currency."""

    message_id: int
    amazon_order_id: str
    currency: str
    items: tuple[AdjustedItem, ...]

    def __post_init__(self) -> None:
        _positive("MessageID", self.message_id)
        _present("AmazonOrderID", self.amazon_order_id)
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise InvalidFeedMessage(f"{self.currency!r} is not an ISO 4217 currency code")
        if not self.items:
            raise InvalidFeedMessage("an OrderAdjustment needs at least one AdjustedItem")


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise InvalidFeedMessage(f"{name} must be a positive integer")


def _present(name: str, value: str) -> None:
    if not value or not value.strip():
        raise InvalidFeedMessage(f"{name} is required")


# -- building ---------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _envelope(merchant_id: str, message_type: str) -> ET.Element:
    _present("MerchantIdentifier", merchant_id)
    root = ET.Element(
        "AmazonEnvelope",
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:noNamespaceSchemaLocation": "amzn-envelope.xsd",
        },
    )
    header = _sub(root, "Header")
    _sub(header, "DocumentVersion", DOCUMENT_VERSION)
    _sub(header, "MerchantIdentifier", merchant_id)
    _sub(root, "MessageType", message_type)
    return root


def _message(root: ET.Element, message_id: int, seen: set[int]) -> ET.Element:
    if message_id in seen:
        raise InvalidFeedMessage(f"MessageID {message_id} is used twice in one feed")
    seen.add(message_id)
    message = _sub(root, "Message")
    _sub(message, "MessageID", str(message_id))
    return message


def _bytes(root: ET.Element) -> bytes:
    document: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return document


def acknowledgement_feed(merchant_id: str, messages: Sequence[OrderCancellation]) -> bytes:
    """A POST_ORDER_ACKNOWLEDGEMENT_DATA document cancelling each order."""
    if not messages:
        raise InvalidFeedMessage("a feed needs at least one message")
    root = _envelope(merchant_id, "OrderAcknowledgement")
    seen: set[int] = set()
    for cancellation in messages:
        ack = _sub(_message(root, cancellation.message_id, seen), "OrderAcknowledgement")
        _sub(ack, "AmazonOrderID", cancellation.amazon_order_id)
        _sub(ack, "StatusCode", "Failure")
        for code in cancellation.item_codes:
            item = _sub(ack, "Item")
            _sub(item, "AmazonOrderItemCode", code)
            _sub(item, "CancelReason", cancellation.reason)
    return _bytes(root)


def adjustment_feed(merchant_id: str, messages: Sequence[OrderAdjustment]) -> bytes:
    """A POST_PAYMENT_ADJUSTMENT_DATA document: refunds and partial cancels, per item."""
    if not messages:
        raise InvalidFeedMessage("a feed needs at least one message")
    root = _envelope(merchant_id, "OrderAdjustment")
    seen: set[int] = set()
    for adjustment in messages:
        element = _sub(_message(root, adjustment.message_id, seen), "OrderAdjustment")
        _sub(element, "AmazonOrderID", adjustment.amazon_order_id)
        for item in adjustment.items:
            _adjusted_item(element, item, adjustment.currency)
    return _bytes(root)


def _adjusted_item(parent: ET.Element, item: AdjustedItem, currency: str) -> None:
    element = _sub(parent, "AdjustedItem")
    _sub(element, "AmazonOrderItemCode", item.amazon_order_item_code)
    if item.merchant_adjustment_item_id:
        _sub(element, "MerchantAdjustmentItemID", item.merchant_adjustment_item_id)
    _sub(element, "AdjustmentReason", item.reason)
    prices = _sub(element, "ItemPriceAdjustments")
    for component in item.components:
        entry = _sub(prices, "Component")
        _sub(entry, "Type", component.type)
        _sub(entry, "Amount", f"{component.amount:f}").set("currency", currency)
    if item.quantity_cancelled is not None:
        _sub(element, "QuantityCancelled", str(item.quantity_cancelled))


# -- the processing report --------------------------------------------------------------------


@dataclass(frozen=True)
class ReportResult:
    message_id: int
    result_code: str  # Error | Warning
    message_code: str
    description: str
    amazon_order_id: str | None = None


@dataclass(frozen=True)
class ProcessingSummary:
    processed: int
    successful: int
    with_error: int
    with_warning: int


@dataclass(frozen=True)
class MessageOutcome:
    """What Amazon did with one message: accepted, or refused with its code and description."""

    message_id: int
    accepted: bool
    message_code: str | None = None
    description: str | None = None
    warnings: tuple[ReportResult, ...] = ()


@dataclass(frozen=True)
class ProcessingReport:
    status_code: str
    summary: ProcessingSummary
    results: tuple[ReportResult, ...] = field(default=())

    def outcome(self, message_id: int) -> MessageOutcome:
        """A message is refused when a Result names it, or the whole document (MessageID 0),
        with ResultCode Error; otherwise Amazon accepted it (possibly with warnings)."""
        mine = [r for r in self.results if r.message_id in (message_id, 0)]
        warnings = tuple(r for r in mine if r.result_code != "Error")
        errors = [r for r in mine if r.result_code == "Error"]
        if not errors:
            return MessageOutcome(message_id, True, warnings=warnings)
        first = errors[0]
        description = "; ".join(r.description for r in errors)
        return MessageOutcome(message_id, False, first.message_code, description, warnings)

    def outcomes(self, message_ids: Iterable[int]) -> dict[int, MessageOutcome]:
        return {message_id: self.outcome(message_id) for message_id in message_ids}


def _text(element: ET.Element, path: str, default: str = "") -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else default


def _int(element: ET.Element, path: str) -> int:
    value = _text(element, path, "0")
    try:
        return int(value)
    except ValueError:
        raise InvalidProcessingReport(f"{path} is not a number: {value!r}") from None


def parse_processing_report(document: bytes) -> ProcessingReport:
    """Parse a feed's processing report (untrusted XML: entities and DTDs are refused)."""
    try:
        root = SafeET.fromstring(document)
    except (ET.ParseError, ValueError) as exc:  # defusedxml's refusals are ValueErrors
        raise InvalidProcessingReport(f"not XML: {exc}") from None
    report = root if root.tag == "ProcessingReport" else root.find("Message/ProcessingReport")
    if report is None:
        raise InvalidProcessingReport("no Message/ProcessingReport element")
    summary = ProcessingSummary(
        processed=_int(report, "ProcessingSummary/MessagesProcessed"),
        successful=_int(report, "ProcessingSummary/MessagesSuccessful"),
        with_error=_int(report, "ProcessingSummary/MessagesWithError"),
        with_warning=_int(report, "ProcessingSummary/MessagesWithWarning"),
    )
    results = tuple(
        ReportResult(
            message_id=_int(result, "MessageID"),
            result_code=_text(result, "ResultCode"),
            message_code=_text(result, "ResultMessageCode"),
            description=_text(result, "ResultDescription"),
            amazon_order_id=_text(result, "AdditionalInfo/AmazonOrderID") or None,
        )
        for result in report.findall("Result")
    )
    return ProcessingReport(_text(report, "StatusCode"), summary, results)
