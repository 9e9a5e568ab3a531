"""Which media types a route's request body may have: what its OpenAPI operation documents.

A JSON route takes ``application/json`` and nothing else; a route that documents other types
(a file upload: multipart or the raw file; a claim response: multipart or JSON) takes those.
A body (a ``Content-Length`` above 0, or chunks) of another ``Content-Type``, or of none, is
refused with 415 when the route starts to read it: ``RequestContextMiddleware`` calls
``check`` on the route's first read, after routing, before any parser has seen a byte. A
route that takes no body never reads one.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import Scope

JSON = "application/json"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class UnsupportedMediaType(HTTPException):
    """415: an HTTPException, so FastAPI's body parsing lets it through as it is."""

    def __init__(self, detail: str, takes: str) -> None:
        super().__init__(415, detail)
        self.errors = [{"field": "header.Content-Type", "message": f"must be {takes}"}]


def request_media_types(route: APIRoute) -> frozenset[str]:
    extra: dict[str, Any] = route.openapi_extra or {}
    documented = extra.get("requestBody", {}).get("content")
    if documented:
        return frozenset(documented)
    field = route.body_field
    if field is not None and type(field.field_info).__name__ in ("Form", "File"):
        return frozenset(FORM_TYPES)
    return frozenset({JSON})


def has_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers", ()))
    length = headers.get(b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return b"transfer-encoding" in headers


def check(scope: Scope) -> None:
    """Raise ``UnsupportedMediaType`` unless the request's body is of a type its route takes."""
    route = scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted = request_media_types(route)
    header = dict(scope.get("headers", ())).get(b"content-type", b"")
    given = header.decode("latin-1").split(";", 1)[0].strip().lower()
    if given not in accepted:
        takes = " or ".join(sorted(accepted))
        sent = f"Content-Type {given}" if given else "no Content-Type"
        raise UnsupportedMediaType(f"This route takes {takes}; the request has {sent}.", takes)
