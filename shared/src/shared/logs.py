"""JSON-lines logging, configured once per process, with the request's correlation id."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from pythonjsonlogger.json import JsonFormatter

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


@contextlib.contextmanager
def correlated(unit: str) -> Iterator[str]:
    """Bind a correlation id naming a unit of work that is not a request or an event (a
    worker, the relay, a background job: ``<unit>-<12 hex>``) while the block runs, so its log
    lines carry one too. A request or an event binds its own over it."""
    cid = f"{unit}-{uuid.uuid4().hex[:12]}"
    token = correlation_id.set(cid)
    try:
        yield cid
    finally:
        correlation_id.reset(token)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id.get()
        return True


def json_handler(stream: Any, *, service: str) -> logging.Handler:
    """A handler writing JSON lines to ``stream``, each with the service and correlation id."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{correlation_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    return handler


def configure_logging(*, service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    root.handlers[:] = [json_handler(sys.stderr, service=service)]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def uvicorn_log_config() -> dict[str, Any]:
    """Let uvicorn log through the root JSON handler instead of its own."""
    return {"version": 1, "disable_existing_loggers": False, "loggers": {}}
