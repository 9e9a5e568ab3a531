"""The shared audit piece without I/O: what an entry holds, the resource a route names, notes
outside a request, and the actor on events (docs/adr/0050-audit-trail.md)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from pydantic import BaseModel
from sqlalchemy import MetaData

from shared import audit, topics
from shared.api.auth import Principal
from shared.events.orders import ORDER_CREATED
from shared.events.registry import build_event
from shared.logs import correlation_id
from shared.messaging.envelope import CloudEvent

pytestmark = pytest.mark.unit

TABLE = audit.define_audit_log(MetaData())
SELLER = "A2SELLER1EXAMPLE"


def _change(principal: Principal | None, **scope: Any) -> audit.Change:
    route = SimpleNamespace(
        path_format="/v1/orders/{amazon_order_id}/refunds", name="issue_refund", status_code=201
    )
    base: dict[str, Any] = {
        "method": "POST",
        "route": route,
        "path_params": {"amazon_order_id": "111-0000000-0000001"},
        "headers": [],
        "state": {"principal": principal} if principal else {},
    }
    return audit.Change(scope={**base, **scope}, engine=None, table=TABLE)


def test_an_entry_names_the_key_the_operation_the_resource_and_the_correlation_id() -> None:
    change = _change(Principal(role="seller", seller_id=SELLER, key_name="k-se…"))
    token = correlation_id.set("req-1")
    try:
        row = audit.entry(change)
    finally:
        correlation_id.reset(token)
    assert row == {
        "key_name": "k-se…",
        "role": "seller",
        "seller_id": SELLER,
        "operation": "issue_refund",
        "method": "POST",
        "path": "/v1/orders/{amazon_order_id}/refunds",
        "resource_type": "order",
        "resource_id": "111-0000000-0000001",
        "outcome": "ok",
        "status_code": 201,
        "correlation_id": "req-1",
    }


def test_a_system_key_is_recorded_for_the_seller_it_names_and_notes_override_defaults() -> None:
    change = _change(
        Principal(role="system", key_name="k-sy…"), headers=[(b"x-seller-id", SELLER.encode())]
    )
    token = audit.begin(change)
    try:
        audit.note(before="Shipped", after="Shipped", status_code=200, outcome="unchanged")
        row = audit.entry(change)
    finally:
        audit.end(token)
    assert row is not None
    assert (row["role"], row["seller_id"]) == ("system", SELLER)
    assert (row["status_before"], row["status_after"]) == ("Shipped", "Shipped")
    assert (row["status_code"], row["outcome"]) == (200, "unchanged")
    assert not change.active


def test_a_request_without_a_principal_has_no_entry() -> None:
    assert audit.entry(_change(None)) is None


@pytest.mark.parametrize(
    ("template", "params", "expected"),
    [
        ("/v1/orders/{amazon_order_id}/refunds", {"amazon_order_id": "1"}, ("order", "1")),
        ("/v1/claims/{claim_id}/decision", {"claim_id": "c"}, ("claim", "c")),
        (
            "/v1/orders/{amazon_order_id}/shipments/{shipment_id}",
            {"shipment_id": "s"},
            ("shipment", "s"),
        ),
        ("/v1/dead-letters/replay", {}, ("replay", None)),
        ("/v1/connections", {}, ("connections", None)),
    ],
)
def test_the_resource_of_a_route_is_its_last_path_parameter(
    template: str, params: dict[str, Any], expected: tuple[str | None, str | None]
) -> None:
    assert audit.resource_of(template, params) == expected


def test_outside_an_api_request_notes_do_nothing_and_events_name_no_actor() -> None:
    audit.note(resource_id="ignored")  # a Kafka handler, a job: no error, nothing kept
    assert audit.actor() is None
    event = _event()
    assert (event.actorkey, event.actorrole, event.actorsellerid) == (None, None, None)
    assert b"actor" not in event.to_bytes()


def test_events_made_during_an_api_change_name_its_actor_and_round_trip() -> None:
    token = audit.begin(_change(Principal(role="seller", seller_id=SELLER, key_name="k-se…")))
    try:
        event = _event()
    finally:
        audit.end(token)
    assert (event.actorkey, event.actorrole, event.actorsellerid) == ("k-se…", "seller", SELLER)
    assert CloudEvent.from_bytes(event.to_bytes()) == event


def test_an_event_written_before_actors_existed_still_decodes() -> None:
    document = orjson.loads(_event().to_bytes())
    assert "actorkey" not in document
    old = CloudEvent.from_bytes(orjson.dumps(document))
    assert old.actorkey is None and old.subject == "111-0000000-0000001"


def test_an_actor_role_outside_the_three_is_refused() -> None:
    document = {**orjson.loads(_event().to_bytes()), "actorrole": "root"}
    with pytest.raises(ValueError, match="actorrole"):
        CloudEvent.from_bytes(orjson.dumps(document))


class _Payload(BaseModel):
    amazon_order_id: str = "111-0000000-0000001"


def _event() -> CloudEvent:
    return build_event(
        topic=topics.ORDERS,
        event_type=ORDER_CREATED,
        payload=_Payload(),
        source="ingest",
        subject="111-0000000-0000001",
        seller_id=SELLER,
        version=1,
    )
