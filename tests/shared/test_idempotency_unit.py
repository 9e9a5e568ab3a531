"""What makes two requests "the same" under an Idempotency-Key (docs/adr/0042)."""

from __future__ import annotations

import pytest

from shared.api.idempotency import fingerprint

pytestmark = pytest.mark.unit


def _of(**changes: object) -> str:
    request: dict[str, object] = {
        "method": "POST",
        "path": "/v1/orders/111-0000000-0000001/refunds",
        "query": "",
        "content_type": "application/json",
        "body": b'{"reason": "Other"}',
    }
    return fingerprint(**(request | changes))  # type: ignore[arg-type]


def test_any_difference_in_method_path_query_media_type_or_body_is_another_request() -> None:
    same = _of()
    assert _of(content_type="application/json; charset=utf-8") == same
    for change in (
        {"method": "PATCH"},
        {"path": "/v1/orders/111-0000000-0000002/refunds"},
        {"query": "dry=1"},
        {"content_type": "text/plain"},
        {"body": b'{"reason": "PriceError"}'},
    ):
        assert _of(**change) != same, change


def test_a_multipart_body_is_the_same_whatever_its_boundary() -> None:
    def form(boundary: str, text: str = "See proof.", quoted: bool = False) -> str:
        body = f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'
        param = f'"{boundary}"' if quoted else boundary
        return _of(
            content_type=f"multipart/form-data; boundary={param}",
            body=(body + f"--{boundary}--\r\n").encode(),
        )

    assert form("a1b2c3") == form("zz99") == form("q7", quoted=True)
    assert form("a1b2c3") != form("zz99", text="Other text.")
