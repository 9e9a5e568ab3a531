"""Ingest's errors.

IngestError
├── OrderOwnedElsewhere   the AmazonOrderId is registered to another seller
├── UploadNotFound        no such upload for this seller
├── UnreadableUpload      the file is not a tab- or comma-separated order report
└── StorageRefused        PostgreSQL refused an order's rows (the order is rejected alone)

The Amazon gateway's errors (``ingest.amazon.domain.errors``) are ``IngestError``s too.
"""


class IngestError(Exception):
    """Base of ingest's domain errors."""


class OrderOwnedElsewhere(IngestError):
    def __init__(self, amazon_order_id: str) -> None:
        super().__init__(
            f"AmazonOrderId {amazon_order_id} is already registered to another "
            "account and cannot be taken over."
        )
        self.amazon_order_id = amazon_order_id


class UploadNotFound(IngestError):
    pass


class UnreadableUpload(IngestError):
    pass


class StorageRefused(IngestError):
    """The database refused what a batch wrote (not a transient failure): redo it order by
    order so that only the refused order is rejected. ``reason``: the driver error's name."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the database refused this order: {reason}")
        self.reason = reason
