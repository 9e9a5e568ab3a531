"""Evidence files on a response: multipart upload, magic-byte checks, limits, safe download."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService

from .conftest import AS_OTHER, AS_SELLER, claim_body, new_order_id

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n% proof of delivery\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


async def _claim(svc: RunningService) -> str:
    r = await svc.client.post("/v1/claims", json=claim_body(new_order_id()), headers=AS_SELLER)
    return str(r.json()["id"])


async def _respond(svc: RunningService, claim_id: str, files: list[Any], text: str = "See proof."):
    return await svc.client.post(
        f"/v1/claims/{claim_id}/responses",
        data={"text": text},
        files=files,
        headers=AS_SELLER,
    )


async def test_response_with_files_stores_them_and_downloads_as_attachment(
    defects: RunningService,
) -> None:
    claim_id = await _claim(defects)
    response = await _respond(
        defects,
        claim_id,
        [
            ("files", ("pod.pdf", PDF, "application/pdf")),
            ("files", ("../label.png", PNG, "image/png")),
            ("files", ("notes.txt", b"Left at front door.\n", "text/plain")),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "responded"
    [answer] = [h for h in body["history"] if h["action"] == "respond"]
    assert answer["text"] == "See proof."
    files = {f["filename"]: f for f in answer["files"]}
    assert set(files) == {"pod.pdf", "label.png", "notes.txt"}
    assert files["pod.pdf"]["sha256"] == hashlib.sha256(PDF).hexdigest()

    download = await defects.client.get(files["pod.pdf"]["download_url"], headers=AS_SELLER)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"] == 'attachment; filename="pod.pdf"'
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == "application/pdf"
    foreign = await defects.client.get(files["pod.pdf"]["download_url"], headers=AS_OTHER)
    assert foreign.status_code == 404


@pytest.mark.parametrize(
    ("files", "status", "field"),
    [
        ([("files", ("run.exe", b"MZ\x90\x00payload", "application/pdf"))], 415, "body.files[0]"),
        (
            [
                ("files", ("a.pdf", PDF, "application/pdf")),
                ("files", ("page.html", b"<html><script>x</script>", "text/html")),
            ],
            415,
            "body.files[1]",
        ),
        ([("files", (f"{i}.pdf", PDF, "application/pdf")) for i in range(6)], 422, "body.files"),
        (  # over the request's size cap (MAX_BODY_BYTES, 5 MiB) that every route has
            [("files", ("big.pdf", PDF + bytes(5 * 1024 * 1024), "application/pdf"))],
            413,
            "body",
        ),
    ],
)
async def test_refused_files_change_nothing(
    defects: RunningService, files: list[Any], status: int, field: str
) -> None:
    claim_id = await _claim(defects)
    response = await _respond(defects, claim_id, files)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field
    after = await defects.client.get(f"/v1/claims/{claim_id}", headers=AS_SELLER)
    assert after.json()["status"] == "open" and len(after.json()["history"]) == 1


async def test_response_needs_text(defects: RunningService) -> None:
    claim_id = await _claim(defects)
    response = await _respond(defects, claim_id, [], text="")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.text"
