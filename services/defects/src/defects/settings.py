"""Defects' settings: only what the other services do not need."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class DefectsSettings(ServiceSettings):
    service_name: str = "defects"
    http_port: int = Field(default=8003, validation_alias="HTTP_PORT")
    overdue_scan_seconds: float = Field(default=5.0, gt=0, validation_alias="OVERDUE_SCAN_SECONDS")
    overdue_scan_batch: int = Field(default=200, ge=1, validation_alias="OVERDUE_SCAN_BATCH")
