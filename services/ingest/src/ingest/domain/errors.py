"""Ingest's errors.

IngestError
├── OrderOwnedElsewhere   the AmazonOrderId is registered to another seller
├── UploadNotFound        no such upload for this seller
└── UnreadableUpload      the file is not a tab- or comma-separated order report
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
