"""Defects' writes under an ``Idempotency-Key``: a retried claim and a retried evidence upload
(multipart, with a new boundary each send) answer the first response and record nothing twice;
the claim's natural key still deduplicates a retry sent without a key."""

from __future__ import annotations

import uuid

import pytest

from orderflow_testkit.harness import RunningService

from .conftest import AS_SELLER, claim_body, new_order_id

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n% proof of delivery\n"


async def test_a_retried_claim_answers_the_first_response(defects: RunningService) -> None:
    body = claim_body(new_order_id())
    key = {**AS_SELLER, "Idempotency-Key": str(uuid.uuid4())}
    first = await defects.client.post("/v1/claims", json=body, headers=key)
    again = await defects.client.post("/v1/claims", json=body, headers=key)
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    unkeyed = await defects.client.post("/v1/claims", json=body, headers=AS_SELLER)
    assert unkeyed.status_code == 200  # the natural key: the case filed the first time
    assert unkeyed.json()["id"] == first.json()["id"]


async def test_a_retried_evidence_upload_is_recorded_once(defects: RunningService) -> None:
    claim = await defects.client.post(
        "/v1/claims", json=claim_body(new_order_id()), headers=AS_SELLER
    )
    path = f"/v1/claims/{claim.json()['id']}/responses"
    key = {**AS_SELLER, "Idempotency-Key": str(uuid.uuid4())}
    sends = [
        await defects.client.post(
            path,
            data={"text": "See proof."},
            files=[("files", ("pod.pdf", PDF, "application/pdf"))],
            headers=key,
        )
        for _ in range(2)
    ]
    boundaries = {s.request.headers["content-type"] for s in sends}
    assert len(boundaries) == 2  # the client drew a new boundary for the retry
    first, again = sends
    assert first.status_code == again.status_code == 200, first.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    detail = await defects.client.get(f"/v1/claims/{claim.json()['id']}", headers=AS_SELLER)
    assert [h["action"] for h in detail.json()["history"]].count("respond") == 1
    other = await defects.client.post(
        path,
        data={"text": "Another text."},
        files=[("files", ("pod.pdf", PDF, "application/pdf"))],
        headers=key,
    )
    assert other.status_code == 422
    assert other.json()["type"] == "urn:orderflow:problem:idempotency-key-reused"
