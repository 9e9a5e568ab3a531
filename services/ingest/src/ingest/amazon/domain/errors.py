"""The Amazon gateway's errors; all are ``IngestError``s (intake's base), mapped to HTTP in
``amazon/entrypoints/api/errors.py``."""

from __future__ import annotations

from ingest.intake.domain.errors import IngestError


class SpApiError(IngestError):
    """Base of the errors of SP-API connections, sync and notifications.

    SpApiError
    ├── ConnectionNotFound     no such connection for this seller
    ├── ConnectionExists       the seller already connected this selling partner and region
    ├── InvalidTransition      e.g. resuming an active connection
    ├── UnknownSellingPartner  a notification's SellerId matches no connection
    ├── SpApiUnavailable       Amazon did not answer usefully within the bounded retries
    ├── ConfirmationNotFound   no such shipment confirmation for this seller
    └── SubmissionNotFound     no such Amazon submission (of any kind) for this seller
    """


class ConnectionNotFound(SpApiError):
    pass


class ConnectionExists(SpApiError):
    pass


class InvalidTransition(SpApiError):
    pass


class UnknownSellingPartner(SpApiError):
    """A notification names a SellerId that no connection holds."""


class SpApiUnavailable(SpApiError):
    """Amazon (or the configured endpoint) did not answer usefully after the bounded retries."""


class ConfirmationNotFound(SpApiError):
    pass


class SubmissionNotFound(SpApiError):
    pass
