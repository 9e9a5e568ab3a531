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


# What a dependency's failure can surface as, for handlers that must catch it by class (the
# API's 503 handler); ``is_transient`` then decides whether it really is one.
MAYBE_TRANSIENT: tuple[type[Exception], ...] = (
    *_TRANSIENT,
    DBAPIError,
)


# SQLSTATEs of a server that is going away or not accepting connections yet: class 08
# (connection exception), 57P01-57P03 (admin/crash shutdown, "the database system is shutting
# down" / "is starting up") and 53300 (too many connections).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")


def is_transient(exc: BaseException) -> bool:
    """True when the failure comes from a dependency being down, not from the data."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, _TRANSIENT):
        return True
    return any(_is_connection_error(cause) for cause in _causes(exc))


def _causes(exc: BaseException, limit: int = 8) -> list[BaseException]:
    """The chain below ``exc`` (``__cause__``, else ``__context__``), without cycles.

    SQLAlchemy wraps a driver error twice (its DBAPIError around the dialect's own ``Error``
    around asyncpg's exception), so the driver's exception is two levels down.
    """
    chain: list[BaseException] = []
    seen = {id(exc)}
    current = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen and len(chain) < limit:
        chain.append(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return chain


def _is_connection_error(exc: BaseException) -> bool:
    name = type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None)
    return (
        isinstance(exc, ConnectionError | OSError)
        or "Connection" in name
        or "CannotConnect" in name
        or (isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES))
    )
