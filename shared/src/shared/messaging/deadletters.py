"""Operators' view of a service's dead letters: list them, replay one or all.

A replay applies the stored message with the service's own handlers, exactly as the consumer
would. If it fails again it goes back to ``<topic>.dlq`` (through the outbox) and stays listed
with its replay count raised; it is never put back on the source topic, so it cannot loop.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.inputs import scrub
from shared.messaging.decoding import Message
from shared.messaging.inbox import EventApplier

log = logging.getLogger(__name__)


class DeadLetters:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        applier: EventApplier[Any],
        service: str,
    ) -> None:
        self._sessions = sessions
        self._applier = applier
        self._service = service
        self._table = applier.tables.dead_letters

    async def list(
        self, *, status: str | None, topic: str | None, after_id: int, limit: int
    ) -> list[Any]:
        t = self._table.c
        stmt = select(self._table).where(t.id > after_id).order_by(t.id).limit(limit)
        if status:
            stmt = stmt.where(t.status == status)
        if topic:
            stmt = stmt.where(t.topic == topic)
        async with self._sessions() as session:
            return list((await session.execute(stmt)).all())

    async def get(self, dead_letter_id: int) -> Any | None:
        async with self._sessions() as session:
            stmt = select(self._table).where(self._table.c.id == dead_letter_id)
            return (await session.execute(stmt)).first()

    async def count_by_status(self) -> dict[str, int]:
        t = self._table.c
        async with self._sessions() as session:
            rows = await session.execute(select(t.status, func.count()).group_by(t.status))
            return {status: count for status, count in rows.all()}

    async def replay(self, dead_letter_id: int) -> str:
        """Replay one dead letter; answers ``replayed`` or ``failed_again``."""
        row = await self.get(dead_letter_id)
        if row is None or row.status != "dead":
            return "not_replayable"
        message = Message(
            row.topic, row.kafka_partition, row.kafka_offset, row.message_key, row.payload
        )
        try:
            async with self._sessions() as session, session.begin():
                await self._applier.apply(session, message)
                await self._mark(session, dead_letter_id, "replayed")
            return "replayed"
        except Exception as exc:
            log.warning(
                "replay failed", extra={"dead_letter_id": dead_letter_id, "error": repr(exc)}
            )
            async with self._sessions() as session, session.begin():
                await self._applier.publish_dead_letter(
                    session, message, exc, row.attempts + 1, self._service
                )
                await self._mark(session, dead_letter_id, "dead", error=exc)
            return "failed_again"

    async def replay_all(self, *, topic: str | None) -> dict[str, int]:
        """Replay every dead letter once (those that fail again are not retried in this call)."""
        outcome: dict[str, int] = {"replayed": 0, "failed_again": 0}
        after = 0
        while rows := await self.list(status="dead", topic=topic, after_id=after, limit=200):
            for row in rows:
                result = await self.replay(row.id)
                outcome[result] = outcome.get(result, 0) + 1
                after = row.id
        return outcome

    async def _mark(
        self,
        session: AsyncSession,
        dead_letter_id: int,
        status: str,
        error: BaseException | None = None,
    ) -> None:
        t = self._table.c
        values: dict[str, Any] = {
            "status": status,
            "replay_count": t.replay_count + 1,
            "replayed_at": func.now(),
        }
        if error is not None:
            values |= {
                "error_type": type(error).__name__,
                "error_message": scrub(f"{type(error).__name__}: {error}", 2000),
            }
        await session.execute(update(self._table).where(t.id == dead_letter_id).values(**values))
