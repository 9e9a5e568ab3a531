"""Document request bodies that a route reads itself (to quarantine bad input, not reject it).

``body_of(Model)`` is the route's ``openapi_extra``; ``add_schemas(app, Model, ...)`` puts the
models (and what they refer to) under ``components/schemas`` of the generated document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF = "#/components/schemas/{model}"


def body_of(
    model: type[BaseModel] | dict[str, Any], *, media_type: str = "application/json"
) -> dict[str, Any]:
    schema = model if isinstance(model, dict) else {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


def add_schemas(app: FastAPI, *models: type[BaseModel]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            schema = model.model_json_schema(ref_template=REF)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
