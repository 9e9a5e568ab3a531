"""Order feed XML without I/O: cancellations and adjustments shaped as Amazon's XSDs and examples
describe them, reason mapping, and the processing report read per message."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from fulfillment.domain import model as fulfillment_model
from ingest.amazon.domain.feed_messages import (
    ADJUSTMENT_REASONS,
    CANCEL_REASONS,
    AdjustedItem,
    Component,
    InvalidFeedMessage,
    InvalidProcessingReport,
    OrderAdjustment,
    OrderCancellation,
    acknowledgement_feed,
    adjustment_feed,
    cancel_reason,
    parse_processing_report,
    partial_cancel_reason,
)
from ingest.amazon.domain.throttle import LIMITS, RateLimit

pytestmark = pytest.mark.unit

SELLER = "A2SELLER1EXAMPLE"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def _shape(element: ET.Element) -> object:
    """An element as (tag, attributes, text or children), for comparing whole documents."""
    children = [_shape(child) for child in element]
    return (element.tag, element.attrib, children or (element.text or "").strip())


def test_cancellation_is_an_acknowledgement_with_failure_and_a_reason_per_item() -> None:
    document = acknowledgement_feed(
        SELLER,
        [OrderCancellation(1, "050-1234567-1234567", "NoInventory", ("12345678901234",))],
    )
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = ET.fromstring(document)
    # Amazon's example envelope (OrderAcknowledgement.xsd, release_1_9), cancelling instead.
    assert _shape(root) == (
        "AmazonEnvelope",
        {f"{XSI}noNamespaceSchemaLocation": "amzn-envelope.xsd"},
        [
            ("Header", {}, [("DocumentVersion", {}, "1.01"), ("MerchantIdentifier", {}, SELLER)]),
            ("MessageType", {}, "OrderAcknowledgement"),
            (
                "Message",
                {},
                [
                    ("MessageID", {}, "1"),
                    (
                        "OrderAcknowledgement",
                        {},
                        [
                            ("AmazonOrderID", {}, "050-1234567-1234567"),
                            ("StatusCode", {}, "Failure"),
                            (
                                "Item",
                                {},
                                [
                                    ("AmazonOrderItemCode", {}, "12345678901234"),
                                    ("CancelReason", {}, "NoInventory"),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def test_adjustment_lists_components_in_the_order_currency_and_quantity_cancelled() -> None:
    refund = AdjustedItem(
        "11111111111111",
        "CustomerReturn",
        (Component("Principal", Decimal("19.99")), Component("Tax", Decimal("1.00"))),
    )
    partial = AdjustedItem(
        "22222222222222",
        "NoInventory",
        (Component("Principal", Decimal("19.99")), Component("Shipping", Decimal("4.5"))),
        quantity_cancelled=1,
    )
    document = adjustment_feed(
        SELLER,
        [
            OrderAdjustment(7, "303-1111111-2222222", "EUR", (refund, partial)),
            OrderAdjustment(8, "303-3333333-4444444", "EUR", (refund,)),
        ],
    )
    root = ET.fromstring(document)
    assert root.findtext("MessageType") == "OrderAdjustment"
    messages = root.findall("Message")
    assert [m.findtext("MessageID") for m in messages] == ["7", "8"]
    adjustment = messages[0].find("OrderAdjustment")
    assert adjustment is not None
    assert [c.tag for c in adjustment] == ["AmazonOrderID", "AdjustedItem", "AdjustedItem"]
    second = adjustment.findall("AdjustedItem")[1]
    # the XSD's sequence: code, reason, ItemPriceAdjustments, then QuantityCancelled
    assert [c.tag for c in second] == [
        "AmazonOrderItemCode",
        "AdjustmentReason",
        "ItemPriceAdjustments",
        "QuantityCancelled",
    ]
    assert second.findtext("QuantityCancelled") == "1"
    amounts = [
        (c.findtext("Type"), amount.text, amount.get("currency"))
        for c in second.iter("Component")
        if (amount := c.find("Amount")) is not None
    ]
    assert amounts == [("Principal", "19.99", "EUR"), ("Shipping", "4.5", "EUR")]


def test_codes_outside_amazons_enumerations_are_refused_before_sending() -> None:
    with pytest.raises(InvalidFeedMessage):
        OrderCancellation(1, "050-1234567-1234567", "PricingError", ("1",))
    with pytest.raises(InvalidFeedMessage):
        AdjustedItem("1", "BuyerCanceled", (Component("Principal", Decimal("1")),))
    with pytest.raises(InvalidFeedMessage):
        Component("Discount", Decimal("1"))
    with pytest.raises(InvalidFeedMessage):
        Component("Principal", Decimal("1.005"))
    with pytest.raises(InvalidFeedMessage):
        OrderAdjustment(1, "050-1234567-1234567", "usd", ())
    with pytest.raises(InvalidFeedMessage):
        AdjustedItem("1", "NoInventory", (Component("Principal", Decimal("1")),), 0)
    item = AdjustedItem("1", "NoInventory", (Component("Principal", Decimal("1")),))
    twice = [OrderAdjustment(1, "1", "USD", (item,)), OrderAdjustment(1, "2", "USD", (item,))]
    with pytest.raises(InvalidFeedMessage, match="twice"):
        adjustment_feed(SELLER, twice)


def test_seller_reasons_map_to_amazon_codes_and_buyer_requests_stay_out_of_the_rate() -> None:
    for reason in fulfillment_model.CANCEL_REASONS:
        assert cancel_reason(reason, buyer_requested=False) in CANCEL_REASONS
        assert cancel_reason(reason, buyer_requested=True) == "BuyerCanceled"
        assert partial_cancel_reason(reason, buyer_requested=False) in ADJUSTMENT_REASONS
    assert cancel_reason("PricingError", buyer_requested=False) == "GeneralAdjustment"
    assert cancel_reason("NoInventory", buyer_requested=False) == "NoInventory"
    assert partial_cancel_reason("NoInventory", buyer_requested=True) == "CustomerCancel"
    with pytest.raises(InvalidFeedMessage):
        cancel_reason("Whatever", buyer_requested=False)


def test_fulfillments_refund_reasons_are_amazon_adjustment_reasons() -> None:
    assert set(fulfillment_model.ADJUSTMENT_REASONS) <= ADJUSTMENT_REASONS


def test_feed_operations_have_amazons_usage_plans() -> None:
    assert LIMITS["createFeedDocument"] == RateLimit(0.5, 15)
    assert LIMITS["createFeed"] == RateLimit(0.0083, 15)
    assert LIMITS["getFeed"] == RateLimit(2.0, 15)
    assert LIMITS["getFeedDocument"] == RateLimit(0.0222, 10)


REPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<AmazonEnvelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:noNamespaceSchemaLocation="amzn-envelope.xsd">
  <Header><DocumentVersion>1.02</DocumentVersion>
    <MerchantIdentifier>M_SELLER_1357503</MerchantIdentifier></Header>
  <MessageType>ProcessingReport</MessageType>
  <Message><MessageID>1</MessageID>
    <ProcessingReport>
      <DocumentTransactionID>8252984128</DocumentTransactionID>
      <StatusCode>Complete</StatusCode>
      <ProcessingSummary>
        <MessagesProcessed>3</MessagesProcessed><MessagesSuccessful>2</MessagesSuccessful>
        <MessagesWithError>1</MessagesWithError><MessagesWithWarning>1</MessagesWithWarning>
      </ProcessingSummary>
      <Result><MessageID>2</MessageID><ResultCode>Error</ResultCode>
        <ResultMessageCode>18021</ResultMessageCode>
        <ResultDescription>The quantities you provided for order id (103-6652650-4045858)
          were larger than the quantities that could be fulfilled.</ResultDescription>
        <AdditionalInfo><AmazonOrderID>103-6652650-4045858</AmazonOrderID></AdditionalInfo>
      </Result>
      <Result><MessageID>3</MessageID><ResultCode>Warning</ResultCode>
        <ResultMessageCode>99001</ResultMessageCode>
        <ResultDescription>A warning.</ResultDescription></Result>
    </ProcessingReport>
  </Message>
</AmazonEnvelope>"""


def test_processing_report_gives_each_message_its_outcome() -> None:
    report = parse_processing_report(REPORT)
    assert report.status_code == "Complete"
    assert (report.summary.processed, report.summary.with_error) == (3, 1)
    outcomes = report.outcomes([1, 2, 3])
    assert outcomes[1].accepted and not outcomes[1].warnings
    assert not outcomes[2].accepted
    assert outcomes[2].message_code == "18021"
    assert outcomes[2].description and "larger than the quantities" in outcomes[2].description
    assert report.results[0].amazon_order_id == "103-6652650-4045858"
    assert outcomes[3].accepted and outcomes[3].warnings[0].message_code == "99001"


def test_a_document_level_error_refuses_every_message() -> None:
    whole = REPORT.replace(b"<MessageID>2</MessageID>", b"<MessageID>0</MessageID>")
    outcomes = parse_processing_report(whole).outcomes([1, 2])
    assert [o.accepted for o in outcomes.values()] == [False, False]
    assert outcomes[1].message_code == "18021"


def test_untrusted_reports_cannot_expand_entities() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'
        b"<ProcessingReport>&a;</ProcessingReport>"
    )
    with pytest.raises(InvalidProcessingReport):
        parse_processing_report(bomb)
    with pytest.raises(InvalidProcessingReport):
        parse_processing_report(b"<html>not a report</html>")
    with pytest.raises(InvalidProcessingReport):
        parse_processing_report(b"not xml")
