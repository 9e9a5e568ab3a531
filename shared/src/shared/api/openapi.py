"""The OpenAPI document every service publishes.

- Error responses are documented as they are sent: RFC 9457 ``application/problem+json``
  (``Problem`` schema) for 400, 401, 403, 404, 409, 413, 422, 429 and 503, replacing FastAPI's
  default 422 ``HTTPValidationError``.
- Routes that read their own body (to quarantine bad input rather than reject it) document it
  with ``body_of(Model)`` as ``openapi_extra``; ``add_schemas(app, Model, ...)`` puts those
  models under ``components/schemas``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "Malformed request",
    "401": "No or unknown API key",
    "403": "The key's role may not do this",
    "404": "Not found (or another seller's)",
    "409": "Conflicts with the current state",
    "413": "Request too large",
    "422": "Invalid fields",
    "429": "Over the key's request budget (see Retry-After)",
    "503": "A dependency is unavailable (see Retry-After)",
}


class FieldProblem(BaseModel):
    field: str
    message: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = Field(default=None, description="field-level detail")


def body_of(
    model: type[BaseModel] | dict[str, Any], *, media_type: str = "application/json"
) -> dict[str, Any]:
    schema = model if isinstance(model, dict) else {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


def add_schemas(app: FastAPI, *models: type[BaseModel]) -> None:
    app.state.openapi_models = [*getattr(app.state, "openapi_models", []), *models]


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in [Problem, *getattr(app.state, "openapi_models", [])]:
            schema = model.model_json_schema(ref_template=REF)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for path in document.get("paths", {}).values():
            for operation in path.values():
                _document_errors(operation)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _document_errors(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    for status, description in ERRORS.items():
        responses[status] = {"description": description, "content": problem}
