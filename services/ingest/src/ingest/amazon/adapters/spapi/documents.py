"""Documents behind presigned urls (feed and report documents): a plain GET or PUT, no SP-API
token (the url carries its own authorisation; it lasts 5 minutes).

Transport errors and 5xx are retried with the SP-API client's back-off; a 4xx (an expired url)
raises what ``refused`` makes of the status, so the caller can ask for a new document.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable

import httpx

from ingest.amazon.adapters.spapi.http import SpApiHttp
from ingest.amazon.domain.connections import SpApiUnavailable
from ingest.amazon.domain.throttle import backoff_delay

log = logging.getLogger(__name__)


async def transfer(
    http: SpApiHttp,
    method: str,
    url: str,
    what: str,
    *,
    refused: Callable[[int, str], Exception],
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    retry = http.retry
    for attempt in range(1, retry.max_attempts + 1):
        try:
            response = await http.client.request(method, url, content=content, headers=headers)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code < 300:
            return response.content
        if response is not None and response.status_code < 500:
            raise refused(response.status_code, what)
        delay = backoff_delay(attempt, base=retry.base_seconds, cap=retry.cap_seconds)
        log.info("document transfer retry", extra={"what": what, "attempt": attempt})
        await http.sleep(delay)
    raise SpApiUnavailable(f"document {what} failed after {retry.max_attempts} attempts")


def decompressed(content: bytes, compression_algorithm: str | None) -> bytes:
    """The document's bytes, gunzipped when Amazon says GZIP."""
    if compression_algorithm == "GZIP":
        return gzip.decompress(content)
    if compression_algorithm:
        raise ValueError(f"unknown compressionAlgorithm {compression_algorithm}")
    return content
