"""Errors the plumbing raises, and the one rule for which failures are worth retrying.

OrderflowError
├── PoisonMessage        a message no retry can fix (bad JSON, unknown type, bad payload)
└── TransientFailure     a dependency is down for now (database, broker): retry, never DLQ
"""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


class OrderflowError(Exception):
    """Base of the plumbing's errors."""


class PoisonMessage(OrderflowError):
    """The message can never be applied as it is."""


class TransientFailure(OrderflowError):
    """A dependency is unavailable; the same work will succeed later."""


_TRANSIENT = (
    TransientFailure,
    OperationalError,
    InterfaceError,
    PoolTimeout,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """True when the failure comes from a dependency being down, not from the data."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, _TRANSIENT):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and _is_connection_error(cause)


def _is_connection_error(exc: BaseException) -> bool:
    name = type(exc).__name__
    return (
        isinstance(exc, ConnectionError | OSError)
        or "Connection" in name
        or "CannotConnect" in name
    )
