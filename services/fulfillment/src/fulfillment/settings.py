"""Fulfillment's settings: only what the other services do not need."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class FulfillmentSettings(ServiceSettings):
    service_name: str = "fulfillment"
    http_port: int = Field(default=8002, validation_alias="HTTP_PORT")
    ship_late_interval_seconds: float = Field(
        default=5.0, validation_alias="SHIP_LATE_INTERVAL_SECONDS"
    )
    ship_late_batch: int = Field(default=200, validation_alias="SHIP_LATE_BATCH")
    upload_chunk_rows: int = Field(default=200, validation_alias="UPLOAD_CHUNK_ROWS")
