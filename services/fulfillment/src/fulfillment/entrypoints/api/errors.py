"""Fulfillment's domain errors as HTTP problems: the one place they are mapped.

NotFound -> 404, InvalidTransition (incl. FulfilledByAmazon) -> 409, RuleViolation -> 409,
InvalidInput -> 422 naming the field, BuyerPIIRemoved -> 410.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fulfillment.domain.errors import (
    BuyerPIIRemoved,
    FulfilledByAmazon,
    FulfillmentError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    QuantityExceeded,
    RefundExceedsPaid,
    RuleViolation,
)
from shared.api.problems import problem_response

_STATUS: list[tuple[type[FulfillmentError], int, str]] = [
    (NotFound, 404, "Not Found"),
    (FulfilledByAmazon, 409, "Fulfilled by Amazon"),
    (InvalidTransition, 409, "Action not allowed in this status"),
    (QuantityExceeded, 409, "Quantity exceeded"),
    (RefundExceedsPaid, 409, "Refund exceeds what was paid"),
    (RuleViolation, 409, "Conflict"),
    (InvalidInput, 422, "Invalid request"),
    (BuyerPIIRemoved, 410, "Gone"),
]


def install(app: FastAPI) -> None:
    @app.exception_handler(FulfillmentError)
    async def _fulfillment_error(request: Request, exc: FulfillmentError) -> JSONResponse:
        status, title = next(
            ((s, t) for kind, s, t in _STATUS if isinstance(exc, kind)), (400, "Bad Request")
        )
        errors = None
        if isinstance(exc, InvalidInput):
            errors = [{"field": f"body.{exc.field}", "message": exc.message}]
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidTransition):
            extra["current_status"] = exc.status
        return problem_response(
            status, title, str(exc), instance=request.url.path, errors=errors, **extra
        )
