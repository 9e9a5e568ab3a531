"""Defects' service layer on the in-memory unit of work: every command handler, the consumed
events' handlers, the overdue scan and the reads, with what each commits and publishes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from defects.domain import commands as cmd
from defects.domain.errors import AlreadyRecorded, InvalidInput, InvalidTransition, NotFound
from defects.domain.evidence_files import EvidenceFile
from defects.domain.model import (
    AppealOutcome,
    Claim,
    ClaimKind,
    ClaimReason,
    Decision,
    Feedback,
    Money,
)
from defects.domain.state_machine import ClaimStatus, FeedbackStatus
from defects.entrypoints.kafka.handlers import HANDLERS
from defects.service_layer import handlers, overdue, queries
from shared.events import fulfillment
from shared.events.defects import FEEDBACK_RECEIVED, FEEDBACK_REMOVED
from shared.events.fulfillment import OrderCanceled
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED, OrderSnapshot
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent

from .conftest import OTHER_SELLER, SELLER, new_order_id, shipment, snapshot
from .fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AMOUNT = Money(Decimal("39.98"), "USD")


def file_command(order_id: str, **overrides: Any) -> cmd.FileClaim:
    command = cmd.FileClaim(
        seller_id=SELLER,
        amazon_order_id=order_id,
        kind=ClaimKind.A_TO_Z,
        reason=ClaimReason.ITEM_NOT_RECEIVED,
        amount=AMOUNT,
        filed_at=NOW - timedelta(hours=1),
    )
    changed: cmd.FileClaim = replace(command, **overrides)
    return changed


async def filed(uow: FakeUnitOfWork, **overrides: Any) -> Claim:
    claim, _ = await handlers.file_claim(uow, file_command(new_order_id(), **overrides), now=NOW)
    return claim


async def stored_claim(uow: FakeUnitOfWork, claim_id: uuid.UUID) -> Claim:
    found = await uow.claims.get(claim_id, seller_id=None)
    assert found is not None
    return found


# --- claims -----------------------------------------------------------------------------------


async def test_filing_a_claim_stores_it_with_its_history_and_announces_it() -> None:
    uow = FakeUnitOfWork()
    order_id = new_order_id()
    await handlers.keep_order_snapshots(uow, snapshots=[snapshot(order_id)])

    claim, filed_now = await handlers.file_claim(uow, file_command(order_id), now=NOW)

    assert filed_now and uow.commits == 1
    assert (await stored_claim(uow, claim.id)).status is ClaimStatus.OPEN
    assert [a.action for a in await uow.claims.activity(claim.id)] == ["file"]
    [event] = uow.published
    assert (event.type, event.subject, event.aggregateversion) == ("claim.filed", order_id, 1)
    assert event.data["fulfillment_channel"] == "MFN"  # the order's facts are in the event
    assert event.data["claim_id"] == str(claim.id)


async def test_the_same_claim_sent_again_is_the_case_filed_before_and_nothing_more() -> None:
    uow = FakeUnitOfWork()
    command = file_command(new_order_id())
    first, _ = await handlers.file_claim(uow, command, now=NOW)

    again, filed_now = await handlers.file_claim(uow, command, now=NOW + timedelta(minutes=1))

    assert (again.id, filed_now) == (first.id, False)
    assert (uow.commits, len(uow.published), len(uow.store.claims)) == (1, 1, 1)


async def test_the_same_claim_with_other_details_is_refused() -> None:
    uow = FakeUnitOfWork()
    command = file_command(new_order_id())
    await handlers.file_claim(uow, command, now=NOW)

    other = replace(command, reason=ClaimReason.NOT_AS_DESCRIBED)
    with pytest.raises(AlreadyRecorded):
        await handlers.file_claim(uow, other, now=NOW)
    assert (uow.commits, len(uow.published)) == (1, 1)


async def test_a_reason_the_kind_does_not_take_is_refused_and_nothing_is_kept() -> None:
    uow = FakeUnitOfWork()
    command = file_command(new_order_id(), reason=ClaimReason.DUPLICATE_CHARGE)
    with pytest.raises(InvalidInput):
        await handlers.file_claim(uow, command, now=NOW)
    assert (uow.commits, uow.published, uow.store.claims) == (0, [], {})


async def test_a_claim_goes_through_information_response_review_decision_and_appeal() -> None:
    uow = FakeUnitOfWork()
    claim = await filed(uow)
    step = {"claim_id": claim.id, "seller_id": SELLER}
    evidence = EvidenceFile("label.txt", "text/plain", b"tracking 1Z999", "0" * 64)

    asked = await handlers.request_information(
        uow, cmd.RequestInformation(**step, requested_at=NOW, note="proof?"), now=NOW
    )
    assert asked.status is ClaimStatus.INFORMATION_REQUESTED
    assert asked.due_at == NOW + timedelta(hours=48)
    answered = await handlers.respond(
        uow, cmd.Respond(**step, text="delivered", files=(evidence,)), now=NOW
    )
    assert answered.status is ClaimStatus.RESPONDED
    await handlers.start_review(uow, cmd.StartReview(**step), now=NOW)
    decision = cmd.Decide(**step, decision=Decision.GRANTED_SELLER_FUNDED, decided_at=NOW)
    await handlers.decide(uow, decision, now=NOW)
    await handlers.appeal(uow, cmd.Appeal(**step, text="it was delivered"), now=NOW)
    outcome = cmd.DecideAppeal(**step, outcome=AppealOutcome.OVERTURNED, decided_at=NOW)
    final = await handlers.decide_appeal(uow, outcome, now=NOW)

    assert final.status is ClaimStatus.APPEAL_DECIDED
    assert await stored_claim(uow, claim.id) == final
    # no event for the information request nor the review: the next one carries the version
    assert [(e.type, e.aggregateversion) for e in uow.published] == [
        ("claim.filed", 1),
        ("claim.responded", 3),
        ("claim.decided", 5),
        ("claim.appealed", 6),
        ("claim.appeal_decided", 7),
    ]
    assert uow.commits == 7
    [kept] = await uow.claims.files(claim.id)
    response = next(a for a in await uow.claims.activity(claim.id) if a.action == "respond")
    assert (kept.filename, kept.activity_id, kept.content) == ("label.txt", response.id, None)
    assert (await uow.claims.file(claim.id, kept.id)) is not None


async def test_a_step_the_state_machine_refuses_changes_and_announces_nothing() -> None:
    uow = FakeUnitOfWork()
    claim = await filed(uow)

    with pytest.raises(InvalidTransition):
        await handlers.appeal(uow, cmd.Appeal(claim_id=claim.id, seller_id=SELLER), now=NOW)

    kept = await stored_claim(uow, claim.id)
    assert (kept.status, kept.version) == (ClaimStatus.OPEN, 1)
    assert (uow.commits, uow.event_types) == (1, ["claim.filed"])


async def test_another_sellers_claim_is_not_found() -> None:
    uow = FakeUnitOfWork()
    claim = await filed(uow)
    with pytest.raises(NotFound):
        await handlers.start_review(
            uow, cmd.StartReview(claim_id=claim.id, seller_id=OTHER_SELLER), now=NOW
        )
    assert uow.commits == 1


async def test_missed_deadlines_are_flagged_once_each() -> None:
    uow = FakeUnitOfWork()
    chargeback = await filed(uow, kind=ClaimKind.CHARGEBACK, reason=ClaimReason.NOT_RECEIVED)
    await filed(uow)  # an A-to-z claim with nothing due
    later = NOW + timedelta(days=8)

    flagged = await handlers.flag_overdue(uow, now=later, limit=10)
    again = await handlers.flag_overdue(uow, now=later + timedelta(hours=1), limit=10)

    assert [c.id for c in flagged] == [chargeback.id] and again == []
    assert uow.event_types[-1] == "chargeback.overdue"
    assert (await stored_claim(uow, chargeback.id)).overdue_flagged_for == chargeback.due_at
    assert (await uow.claims.activity(chargeback.id))[-1].action == "flag_overdue"


async def test_the_overdue_scan_flags_through_a_new_unit_of_work() -> None:
    uow = FakeUnitOfWork()
    await filed(uow, kind=ClaimKind.CHARGEBACK, reason=ClaimReason.UNAUTHORIZED)
    assert await overdue.scan_once(lambda: uow, now=NOW, batch=10) == 0
    assert await overdue.scan_once(lambda: uow, now=NOW + timedelta(days=8), batch=10) == 1


# --- feedback ---------------------------------------------------------------------------------


def feedback_command(order_id: str, *, rating: int = 1) -> cmd.ReceiveFeedback:
    return cmd.ReceiveFeedback(
        seller_id=SELLER,
        amazon_order_id=order_id,
        rating=rating,
        comment="never arrived",
        received_at=NOW - timedelta(hours=2),
    )


async def received(uow: FakeUnitOfWork) -> Feedback:
    feedback, _ = await handlers.receive_feedback(uow, feedback_command(new_order_id()), now=NOW)
    return feedback


async def test_feedback_is_recorded_once_and_announced() -> None:
    uow = FakeUnitOfWork()
    command = feedback_command(new_order_id())

    feedback, recorded_now = await handlers.receive_feedback(uow, command, now=NOW)
    again, again_now = await handlers.receive_feedback(uow, command, now=NOW)

    assert recorded_now and not again_now and again.id == feedback.id
    assert (uow.commits, uow.event_types) == (1, [FEEDBACK_RECEIVED])
    assert uow.published[0].data["counts_toward_odr"] is True


async def test_feedback_with_another_rating_at_the_same_time_is_refused() -> None:
    uow = FakeUnitOfWork()
    order_id = new_order_id()
    await handlers.receive_feedback(uow, feedback_command(order_id), now=NOW)
    with pytest.raises(AlreadyRecorded):
        await handlers.receive_feedback(uow, feedback_command(order_id, rating=2), now=NOW)
    assert uow.commits == 1


async def test_a_removal_is_requested_then_recorded_and_announced() -> None:
    uow = FakeUnitOfWork()
    feedback = await received(uow)
    ids = {"feedback_id": feedback.id, "seller_id": SELLER}

    asked = await handlers.request_feedback_removal(
        uow, cmd.RequestFeedbackRemoval(**ids, reason="about the carrier"), now=NOW
    )
    removed = await handlers.record_feedback_removal(
        uow, cmd.RecordFeedbackRemoval(**ids, removed=True, at=NOW), now=NOW
    )

    assert asked.status is FeedbackStatus.REMOVAL_REQUESTED
    assert removed.status is FeedbackStatus.REMOVED
    assert uow.event_types == [FEEDBACK_RECEIVED, FEEDBACK_REMOVED]
    assert uow.commits == 3


async def test_a_denied_removal_is_recorded_without_an_event() -> None:
    uow = FakeUnitOfWork()
    feedback = await received(uow)
    ids = {"feedback_id": feedback.id, "seller_id": SELLER}
    await handlers.request_feedback_removal(
        uow, cmd.RequestFeedbackRemoval(**ids, reason="about the carrier"), now=NOW
    )
    denied = await handlers.record_feedback_removal(
        uow, cmd.RecordFeedbackRemoval(**ids, removed=False, at=NOW), now=NOW
    )
    assert denied.status is FeedbackStatus.REMOVAL_DENIED
    assert uow.event_types == [FEEDBACK_RECEIVED]


async def test_removing_another_sellers_feedback_is_not_found() -> None:
    uow = FakeUnitOfWork()
    feedback = await received(uow)
    command = cmd.RequestFeedbackRemoval(
        feedback_id=feedback.id, seller_id=OTHER_SELLER, reason="x"
    )
    with pytest.raises(NotFound):
        await handlers.request_feedback_removal(uow, command, now=NOW)


# --- orders.v1 and fulfillment.v1 ---------------------------------------------------------------


def changed(order: OrderSnapshot, **fields: object) -> OrderSnapshot:
    return OrderSnapshot.model_validate({**order.model_dump(), **fields})


async def test_a_run_of_snapshots_keeps_each_orders_newest_over_an_older_one() -> None:
    uow = FakeUnitOfWork()
    held, twice = new_order_id(), new_order_id()
    await handlers.keep_order_snapshots(uow, snapshots=[snapshot(held, version=3)])

    stored = await handlers.keep_order_snapshots(
        uow,
        snapshots=[
            snapshot(twice),
            changed(snapshot(twice, version=2), fulfillment_channel="AFN"),
            changed(snapshot(twice, version=2), order_status="Canceled"),  # same version again
            changed(snapshot(held, version=2), order_status="Canceled"),  # older than held
        ],
    )

    assert stored == 1
    kept = uow.store.orders
    assert (kept[twice].version, kept[twice].fulfillment_channel) == (2, "AFN")
    assert kept[twice].order_status == "Shipped"
    assert (kept[held].version, kept[held].order_status) == (3, "Shipped")


async def test_a_run_of_fulfillment_facts_keeps_each_facts_newest_version() -> None:
    uow = FakeUnitOfWork()
    order_id = new_order_id()
    ups = shipment(order_id)
    usps = shipment(order_id, carrier_code="USPS")

    stored = await handlers.keep_fulfillment_facts(uow, facts=[(2, ups), (4, usps), (3, ups)])

    assert stored == 1
    facts = await uow.orders.facts(order_id, SELLER)
    assert [s.carrier_code for s in facts.shipments] == ["USPS"]
    assert not facts.known  # no orders.v1 snapshot yet


async def test_an_event_defects_does_not_keep_is_refused() -> None:
    with pytest.raises(TypeError):
        await handlers.keep_fulfillment_facts(
            FakeUnitOfWork(), facts=[(1, snapshot(new_order_id()))]
        )


async def test_the_kafka_handlers_map_each_consumed_type_to_the_service_layer() -> None:
    uow = FakeUnitOfWork()
    order_id = new_order_id()
    canceled = OrderCanceled(
        amazon_order_id=order_id,
        seller_id=SELLER,
        order_status="Canceled",
        reason="NoInventory",
        buyer_requested=False,
        canceled_by="seller",
        canceled_at=NOW,
    )
    order = snapshot(order_id, version=2)
    await HANDLERS[ORDER_UPDATED](uow, [(_event(ORDER_UPDATED, order, 2), order)])
    await HANDLERS[fulfillment.ORDER_CANCELED](
        uow, [(_event(fulfillment.ORDER_CANCELED, canceled, 3), canceled)]
    )

    facts = await uow.orders.facts(order_id, SELLER)
    assert facts.known and facts.cancellation is not None
    assert uow.store.facts[(order_id, "cancellation", "order")][0] == 3
    assert HANDLERS[ORDER_CREATED] is HANDLERS[ORDER_UPDATED]
    assert uow.published == []  # keeping facts announces nothing


def _event(event_type: str, payload: OrderSnapshot | OrderCanceled, version: int) -> CloudEvent:
    return build_event(
        topic="orders.v1" if event_type.startswith("order.") else "fulfillment.v1",
        event_type=event_type,
        payload=payload,
        source="test",
        subject=payload.amazon_order_id,
        seller_id=payload.seller_id,
        version=version,
    )


# --- reads ------------------------------------------------------------------------------------


async def test_reads_page_claims_and_list_open_cases_of_the_seller() -> None:
    uow = FakeUnitOfWork()
    claims = [await filed(uow) for _ in range(3)]
    await received(uow)

    first = await queries.claims_page(
        uow,
        seller_id=SELLER,
        status=None,
        kind=None,
        amazon_order_id=None,
        due_before=None,
        after=None,
        limit=2,
    )
    assert [c.id for c, _ in first.items] == [claims[2].id, claims[1].id]
    assert first.last is not None
    cases = await queries.open_cases(uow, seller_id=SELLER)
    assert (len(cases.claims), len(cases.feedback)) == (3, 1)
    detail = await queries.claim_by_id(uow, claim_id=claims[0].id, seller_id=SELLER)
    assert [a.action for a in detail.activity] == ["file"]
    with pytest.raises(NotFound):
        await queries.claim_by_id(uow, claim_id=claims[0].id, seller_id=OTHER_SELLER)
    assert uow.commits == 4  # the reads commit nothing
