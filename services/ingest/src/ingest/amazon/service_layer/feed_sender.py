"""Feed messages sent to Amazon in batches, and their processing reports read back.

Cancellations and adjustments (``ingest.service_layer.submissions``) wait ``pending`` in
``amazon_submissions``. ``FeedSender.send_once`` sends, per (seller, marketplace, feed type),
one feed of up to FEED_BATCH_SIZE messages once that many wait or the oldest has waited
FEED_MAX_WAIT_SECONDS (``ingest.domain.submissions.batch_due``): createFeed's bucket (burst 15,
0.0083/s) is never the limit however many actions sellers take
(docs/adr/0046-amazon-submissions.md). Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and
leased, so several ingest instances never put one message in two feeds (a crash between
createFeed and marking the rows only resends them after the lease). Each message is numbered
within its feed; the rows are marked ``submitted`` with the feed id and message id.

``check_feed(feed_id)`` reads one feed: once its processing status is final, the report marks
each of its rows accepted, or failed with Amazon's ResultMessageCode and ResultDescription (one
message's error fails that row only); a FATAL or CANCELLED feed fails all its rows with the
reason. Failed rows can be retried. ``poll_once`` checks every feed still open; the
FEED_PROCESSING_FINISHED notification calls ``on_feed_finished`` to check its feed at once.
Each outcome is announced on ``orders.v1`` in the transaction that records it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ingest.amazon.adapters import outbox
from ingest.amazon.adapters.spapi.feeds import Feed, FeedNotDone, FeedsClient, FeedTransferError
from ingest.amazon.adapters.spapi.http import SpApiRequestError
from ingest.amazon.adapters.sqs import FeedFinished
from ingest.amazon.domain import confirmations as dc
from ingest.amazon.domain import submissions as ds
from ingest.amazon.domain.errors import SpApiUnavailable
from ingest.amazon.domain.feed_messages import (
    InvalidFeedMessage,
    InvalidProcessingReport,
    OrderAdjustment,
    OrderCancellation,
    ProcessingReport,
)
from ingest.amazon.domain.submissions import Action, Status
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi, spapi_of, uow_factory_of, vault_of
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork as UnitOfWork
from ingest.settings import IngestSettings
from shared import topics
from shared.inputs import scrub
from shared.runtime import Resources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    action: Action
    error: str | None = None
    result_code: str | None = None


@dataclass
class FeedSender:
    new_uow: Callable[[], UnitOfWork]
    spapi: SpApi
    vault: Vault
    topic: str  # orders.v1, where accepted / failed are announced
    rand: Callable[[], float] = random.random
    lease: timedelta = field(default_factory=lambda: timedelta(minutes=5))

    @property
    def settings(self) -> IngestSettings:
        return self.spapi.settings

    # -- sending ---------------------------------------------------------------------------

    async def send_once(self) -> int:
        """Send every batch that is due (one feed each); how many messages went out."""
        async with self.new_uow() as uow:
            waiting = await uow.submissions.waiting()
        max_wait = timedelta(seconds=self.settings.feed_max_wait_seconds)
        due = [
            w
            for w in waiting
            if ds.batch_due(
                ds.Waiting(w.count, w.oldest),
                now=w.now,
                batch_size=self.settings.feed_batch_size,
                max_wait=max_wait,
            )
        ]
        if not due:
            return 0
        async with self.spapi.client() as client:
            sent = await asyncio.gather(*(self._send_batch(client, w) for w in due))
        return sum(sent)

    async def _send_batch(self, client: httpx.AsyncClient, group: Any) -> int:
        async with self.new_uow() as uow:
            repo = uow.submissions
            rows = await repo.claim_batch(
                seller_id=group.seller_id,
                marketplace_id=group.marketplace_id,
                feed_type=group.feed_type,
                lease=self.lease,
                limit=self.settings.feed_batch_size,
            )
            connection = await repo.active_connection(group.seller_id, group.marketplace_id)
            await uow.commit()
        if not rows:
            return 0
        if connection is None:
            reason = f"Seller {group.seller_id} has no active SP-API connection any more."
            await self._outcomes({r.id: (r, Outcome(Action.FAIL, reason)) for r in rows})
            return 0
        numbered, refused = self._number(group.feed_type, rows)
        if refused:
            await self._outcomes(refused)
        if numbered:
            await self._submit(client, connection, group, numbered)
        return len(numbered)

    def _number(
        self, feed_type: str, rows: list[Any]
    ) -> tuple[list[tuple[Any, OrderCancellation | OrderAdjustment]], dict[Any, Any]]:
        """Each row's message, numbered 1.. within the feed; rows Amazon would refuse apart."""
        numbered: list[tuple[Any, OrderCancellation | OrderAdjustment]] = []
        refused: dict[Any, Any] = {}
        for row in rows:
            try:
                numbered.append((row, ds.message_of(feed_type, len(numbered) + 1, row.payload)))
            except InvalidFeedMessage as exc:
                refused[row.id] = (row, Outcome(Action.FAIL, f"Cannot be sent to Amazon: {exc}"))
        return numbered, refused

    async def _submit(
        self,
        client: httpx.AsyncClient,
        connection: Any,
        group: Any,
        numbered: list[tuple[Any, OrderCancellation | OrderAdjustment]],
    ) -> None:
        rows = [row for row, _ in numbered]
        try:
            document = ds.feed_document(
                group.feed_type, connection.selling_partner_id, [m for _, m in numbered]
            )
            feeds = FeedsClient(self.spapi.http(client, connection, self.vault))
            feed_id = await feeds.submit(
                feed_type=group.feed_type,
                marketplace_ids=[group.marketplace_id],
                content=document,
            )
        except SpApiRequestError as exc:
            outcome = Outcome(Action.FAIL, dc.error_text(exc.errors, exc.status))
            await self._outcomes({r.id: (r, outcome) for r in rows})
            return
        except (SpApiUnavailable, FeedTransferError, httpx.HTTPError) as exc:
            outcome = Outcome(Action.DEFER, f"{type(exc).__name__}: {exc}"[:1000])
            await self._outcomes({r.id: (r, outcome) for r in rows})
            return
        target = ds.transition(Status.PENDING, Action.SUBMIT)
        async with self.new_uow() as uow:
            repo = uow.submissions
            for row, message in numbered:
                await repo.finish(
                    row.id,
                    status=target.value,
                    feed_id=feed_id,
                    message_id=message.message_id,
                    submitted_at=datetime.now(UTC),
                    last_error=None,
                    result_code=None,
                )
            await uow.commit()
        log.info(
            "amazon feed submitted",
            extra={"feed_id": feed_id, "feed_type": group.feed_type, "messages": len(rows)},
        )

    # -- reading the reports ---------------------------------------------------------------

    async def poll_once(self) -> int:
        """Check every feed with messages still submitted; how many feeds were final."""
        async with self.new_uow() as uow:
            feeds = await uow.submissions.submitted_feeds()
        done = 0
        for feed in feeds:
            try:
                done += await self.check_feed(feed.feed_id)
            except Exception:  # one feed's trouble must not stop the others
                log.exception("amazon feed check failed", extra={"feed_id": feed.feed_id})
        return done

    async def on_feed_finished(self, notification: FeedFinished) -> None:
        """FEED_PROCESSING_FINISHED from SQS: read that feed's report now. A feed with no
        submitted rows here (another application's, or one whose rows are not marked yet) is
        left to the poll."""
        await self.check_feed(
            notification.envelope.payload.feedProcessingFinishedNotification.feedId
        )

    async def check_feed(self, feed_id: str) -> int:
        """Read one feed; once final, record each of its messages' outcome. 1 when it was
        final (its rows recorded), 0 when it is still processing or not ours."""
        async with self.new_uow() as uow:
            repo = uow.submissions
            rows = await repo.of_feed(feed_id)
            connection = (
                await repo.active_connection(rows[0].seller_id, rows[0].marketplace_id)
                if rows
                else None
            )
        if not rows or connection is None:
            return 0
        async with self.spapi.client() as client:
            feeds = FeedsClient(self.spapi.http(client, connection, self.vault))
            try:
                feed = await feeds.get_feed(feed_id)
                if not feed.final:
                    return 0
                report = await self._report(feeds, feed)
            except (SpApiRequestError, InvalidProcessingReport) as exc:  # not transient
                error = f"Feed {feed_id} cannot be read: {exc}; retry to send it again."
                await self._outcomes(
                    {r.id: (r, Outcome(Action.FAIL, error)) for r in rows}, submitted=True
                )
                return 1
        await self._outcomes({r.id: (r, _outcome(feed, report, r)) for r in rows}, submitted=True)
        return 1

    async def _report(self, feeds: FeedsClient, feed: Feed) -> ProcessingReport | None:
        try:
            return await feeds.report(feed)
        except FeedNotDone:
            return None

    # -- recording -------------------------------------------------------------------------

    async def _outcomes(self, outcomes: dict[Any, Any], *, submitted: bool = False) -> None:
        """Record outcomes in one transaction, announcing accepted and failed rows."""
        expected = Status.SUBMITTED if submitted else Status.PENDING
        now = datetime.now(UTC)
        async with self.new_uow() as uow:
            repo = uow.submissions
            for row, outcome in outcomes.values():
                values, target = self._values(row, outcome, expected, now)
                changed = await repo.finish(row.id, expected=expected.value, **values)
                if changed and target in (Status.ACCEPTED, Status.FAILED):
                    announcement = outbox.feed_announcement(row, target, values, now)
                    uow.publish([announcement], topic=self.topic)
            await uow.commit()
        log.info("amazon feed messages recorded", extra={"rows": len(outcomes)})

    def _values(
        self, row: Any, outcome: Outcome, expected: Status, now: datetime
    ) -> tuple[dict[str, Any], Status]:
        action = outcome.action
        error = scrub(outcome.error, 1000) if outcome.error else None
        if action is Action.DEFER and row.attempts >= self.settings.spapi_confirm_max_attempts:
            action, error = Action.FAIL, f"gave up after {row.attempts} attempts: {error}"
        target = ds.transition(expected, action)
        values: dict[str, Any] = {
            "status": target.value,
            "last_error": error,
            "result_code": outcome.result_code,
        }
        if target is Status.ACCEPTED:
            values["sent_at"] = now
        elif action is Action.DEFER:
            values["next_attempt_at"] = dc.retry_at(
                now,
                row.attempts,
                base=self.settings.spapi_backoff_seconds,
                cap=self.settings.spapi_backoff_cap_seconds,
                rand=self.rand,
            )
        return values, target


def _outcome(feed: Feed, report: ProcessingReport | None, row: Any) -> Outcome:
    if report is None:
        return Outcome(
            Action.FAIL,
            f"Amazon ended feed {feed.feed_id} {feed.processing_status} without a processing "
            "report; retry to send it again.",
        )
    result = report.outcome(row.message_id)
    if result.accepted:
        return Outcome(Action.ACCEPT)
    return Outcome(Action.FAIL, result.description or "refused", result.message_code or None)


def feed_sender_of(resources: Resources[Any]) -> FeedSender:
    spapi = spapi_of(resources)
    return FeedSender(
        new_uow=uow_factory_of(resources),
        spapi=spapi,
        vault=vault_of(resources),
        topic=resources.settings.topic(topics.ORDERS),
        lease=timedelta(seconds=spapi.settings.spapi_lease_seconds),
    )


async def run_feed_sender(resources: Resources[Any]) -> None:
    """Background job: send due batches and read finished feeds, forever (unless disabled)."""
    settings = spapi_of(resources).settings
    if not settings.feeds_enabled:
        log.info("amazon feeds disabled (FEEDS_ENABLED=false)")
        return
    sender = feed_sender_of(resources)
    polled = 0.0
    loop = asyncio.get_running_loop()
    while True:
        busy = 0
        try:
            busy = await sender.send_once()
            if loop.time() - polled >= settings.feed_poll_seconds:
                polled = loop.time()
                await sender.poll_once()
        except Exception:  # a database hiccup must not end the job
            log.exception("amazon feed pass failed")
        if not busy:
            await asyncio.sleep(settings.spapi_idle_seconds)
