"""``/v1/dead-letters``: operators list and replay a service's dead letters (``ops`` role)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from shared import inputs
from shared.api.auth import require_roles
from shared.api.pagination import After, Cursor, Limit, Page, encode_cursor, read_cursor
from shared.api.problems import Problem
from shared.messaging.deadletters import DeadLetters

DeadLetterId = Annotated[int, Path(ge=1, le=inputs.INT64_MAX)]
Topic = Annotated[
    str | None,
    Query(max_length=249, pattern=r"^[A-Za-z0-9._-]+$", description="a Kafka topic name"),
]

router = APIRouter(
    prefix="/v1/dead-letters", tags=["dead letters"], dependencies=[require_roles("ops")]
)


class DeadLetterOut(BaseModel):
    id: int
    topic: str
    partition: int
    offset: int
    key: str | None
    event_type: str | None
    subject: str | None
    error_type: str
    error_message: str
    attempts: int
    status: str
    replay_count: int
    failed_at: datetime
    replayed_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> DeadLetterOut:
        return cls(
            id=row.id,
            topic=row.topic,
            partition=row.kafka_partition,
            offset=row.kafka_offset,
            key=row.message_key,
            event_type=row.event_type,
            subject=row.subject,
            error_type=row.error_type,
            error_message=row.error_message,
            attempts=row.attempts,
            status=row.status,
            replay_count=row.replay_count,
            failed_at=row.failed_at,
            replayed_at=row.replayed_at,
        )


class ReplayOut(BaseModel):
    id: int | None = None
    result: str | None = None
    replayed: int = 0
    failed_again: int = 0


def _dead_letters(request: Request) -> DeadLetters:
    dead: DeadLetters = request.app.state.dead_letters
    return dead


@router.get("", response_model=Page[DeadLetterOut], summary="List dead letters")
async def list_dead_letters(
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(pattern="^(dead|replayed)$")] = None,
    topic: Topic = None,
) -> Page[DeadLetterOut]:
    position = read_cursor(cursor, After)
    after = position.after if position else 0
    rows = await _dead_letters(request).list(
        status=status, topic=topic, after_id=after, limit=limit + 1
    )
    items = [DeadLetterOut.of(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor({"after": items[-1].id}) if more else None)


@router.get("/{dead_letter_id}", response_model=DeadLetterOut, summary="One dead letter")
async def get_dead_letter(request: Request, dead_letter_id: DeadLetterId) -> DeadLetterOut:
    row = await _dead_letters(request).get(dead_letter_id)
    if row is None:
        raise Problem(404, "Not Found", f"No dead letter {dead_letter_id}.")
    return DeadLetterOut.of(row)


@router.post("/{dead_letter_id}/replay", response_model=ReplayOut, summary="Replay one")
async def replay_one(request: Request, dead_letter_id: DeadLetterId) -> ReplayOut:
    result = await _dead_letters(request).replay(dead_letter_id)
    if result == "not_replayable":
        raise Problem(
            409,
            "Not replayable",
            f"Dead letter {dead_letter_id} does not exist or was already replayed.",
        )
    return ReplayOut(
        id=dead_letter_id,
        result=result,
        replayed=int(result == "replayed"),
        failed_again=int(result != "replayed"),
    )


@router.post("/replay", response_model=ReplayOut, summary="Replay every dead letter")
async def replay_all(request: Request, topic: Topic = None) -> ReplayOut:
    outcome = await _dead_letters(request).replay_all(topic=topic)
    return ReplayOut(
        replayed=outcome.get("replayed", 0), failed_again=outcome.get("failed_again", 0)
    )
