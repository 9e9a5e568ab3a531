"""Ingest's settings: only what the other services do not need."""

from __future__ import annotations

from pydantic import Field
from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
    http_port: int = Field(default=8001, validation_alias="HTTP_PORT")
    max_batch_orders: int = Field(default=1000, validation_alias="MAX_BATCH_ORDERS")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, validation_alias="MAX_UPLOAD_BYTES")
    upload_chunk_orders: int = Field(default=200, validation_alias="UPLOAD_CHUNK_ORDERS")
