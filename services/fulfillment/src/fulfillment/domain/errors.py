"""Fulfillment's errors, mapped to HTTP in ``entrypoints/api/errors.py``.

FulfillmentError
├── NotFound                      404: no such object for this seller
│   ├── OrderNotFound
│   ├── ShipmentNotFound
│   ├── ReturnNotFound
│   ├── TrackingNumberNotFound    no shipment of the seller has that carrier and number
│   └── UploadNotFound
├── InvalidTransition             409: the state machine refuses the action (says why)
│   └── FulfilledByAmazon         409: seller actions on an FBA (AFN) order
├── RuleViolation                 409: the action conflicts with what the order holds
│   ├── QuantityExceeded          more shipped or returned than ordered or shipped
│   └── RefundExceedsPaid         more refunded than was paid
├── InvalidInput                  422: a field is wrong on its own (names the field)
│   └── UnreadableUpload          the file is not a shipment-confirmation flat file
└── BuyerPIIRemoved               410: buyer PII removed (retention): no packing slip any more

ConcurrentInsert (not a FulfillmentError): another transaction inserted the same order first;
the consumer runner retries the event, which then merges into the stored order.
"""

from __future__ import annotations


class FulfillmentError(Exception):
    """Base of fulfillment's domain errors."""


class NotFound(FulfillmentError):
    pass


class OrderNotFound(NotFound):
    def __init__(self, amazon_order_id: str) -> None:
        super().__init__(f"No order {amazon_order_id} for this seller.")


class ShipmentNotFound(NotFound):
    def __init__(self, shipment_id: str) -> None:
        super().__init__(f"No shipment {shipment_id} on this order.")


class ReturnNotFound(NotFound):
    def __init__(self, return_id: str) -> None:
        super().__init__(f"No return {return_id} on this order.")


class TrackingNumberNotFound(NotFound):
    def __init__(self, carrier_code: str, tracking_number: str) -> None:
        super().__init__(
            f"No shipment of this seller was confirmed with carrier {carrier_code} and "
            f"tracking number {tracking_number}."
        )


class UploadNotFound(NotFound):
    def __init__(self, upload_id: str) -> None:
        super().__init__(f"No shipment upload {upload_id} for this seller.")


class InvalidTransition(FulfillmentError):
    def __init__(self, action: str, status: str, reason: str) -> None:
        super().__init__(f"Cannot {action} an order that is {status}: {reason}")
        self.action, self.status, self.reason = action, status, reason


class FulfilledByAmazon(InvalidTransition):
    def __init__(self, action: str, status: str) -> None:
        super().__init__(
            action,
            status,
            "the order is fulfilled by Amazon (FBA/AFN); Amazon ships it and handles "
            "cancellations, refunds and returns, so seller actions are not available.",
        )


class RuleViolation(FulfillmentError):
    pass


class QuantityExceeded(RuleViolation):
    pass


class RefundExceedsPaid(RuleViolation):
    pass


class InvalidInput(FulfillmentError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class UnreadableUpload(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__("file", message)


class BuyerPIIRemoved(FulfillmentError):
    def __init__(self, amazon_order_id: str, removed_on: str) -> None:
        super().__init__(
            f"The buyer's name, address and contact details of order {amazon_order_id} were "
            f"removed on {removed_on} (buyer PII is kept only PII_RETENTION_DAYS after an order "
            "ships or is canceled, per Amazon's Data Protection Policy), so its packing slip "
            "can no longer be printed."
        )


class ConcurrentInsert(RuntimeError):
    """Another transaction inserted this order first; the caller retries and merges."""

    def __init__(self, amazon_order_id: str) -> None:
        super().__init__(amazon_order_id)
        self.amazon_order_id = amazon_order_id
