"""API-key auth.

``ORDERFLOW_API_KEYS`` is a comma-separated list of ``KEY=ROLE`` where ROLE is ``ops``,
``system`` or ``seller:SELLER_ID``. Clients send ``Authorization: Bearer KEY``.

- ``seller``: bound to one seller id; sees and changes only that seller's data.
- ``system``: internal systems; act for any seller, naming it in ``X-Seller-Id``.
- ``ops``: reads everything (optionally narrowed by ``X-Seller-Id``) and operates dead letters.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from shared import inputs
from shared.api.problems import Problem

ROLES = ("ops", "system", "seller")
SellerHeader = Annotated[
    str | None,
    Header(
        pattern=inputs.SELLER_ID,
        max_length=32,
        description="the seller a system or ops key acts for or reads",
    ),
]


@dataclass(frozen=True)
class Principal:
    role: str
    seller_id: str | None = None
    key_name: str = ""


class InvalidKeyConfig(ValueError):
    """ORDERFLOW_API_KEYS is malformed."""


def parse_api_keys(spec: str) -> dict[str, Principal]:
    """Map sha256(key) to its principal."""
    keys: dict[str, Principal] = {}
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        key, sep, role = entry.partition("=")
        if not sep or not key:
            raise InvalidKeyConfig(f"entry {entry[:4]}... is not KEY=ROLE")
        keys[_digest(key)] = _principal(role.strip(), key)
    return keys


def _principal(role: str, key: str) -> Principal:
    name = f"{key[:4]}…"
    if role in ("ops", "system"):
        return Principal(role=role, key_name=name)
    kind, _, seller = role.partition(":")
    if kind == "seller" and re.fullmatch(inputs.SELLER_ID, seller):
        return Principal(role="seller", seller_id=seller, key_name=name)
    raise InvalidKeyConfig(
        f"unknown role {role!r}: use ops, system or seller:SELLER_ID (capital letters, digits)"
    )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "Unauthorized",
            "Send 'Authorization: Bearer <api key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal: Principal | None = request.app.state.api_keys.get(_digest(token.strip()))
    if principal is None:
        raise Problem(
            401, "Unauthorized", "Unknown API key.", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def rate_limit(request: Request) -> None:
    """Per-key request budget (``RATE_LIMIT_PER_SECOND``, ``RATE_LIMIT_BURST``): 429 beyond it."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    if not token.strip():
        return
    wait = request.app.state.rate_limits.try_take(_digest(token.strip()))
    if wait > 0:
        retry_after = str(max(1, math.ceil(wait)))
        raise Problem(
            429,
            "Too Many Requests",
            f"This API key is over its request budget; retry in {retry_after} s.",
            headers={"Retry-After": retry_after},
        )


def require_roles(*roles: str) -> Any:
    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Problem(
                403,
                "Forbidden",
                f"This action needs the role {' or '.join(roles)}; "
                f"the key has the role {principal.role}.",
            )
        return principal

    return Depends(check)


async def acting_seller(
    principal: CurrentPrincipal,
    x_seller_id: SellerHeader = None,
) -> str:
    """The seller a write acts for: the key's own seller, or ``X-Seller-Id`` for system keys."""
    if principal.role == "seller":
        assert principal.seller_id is not None
        if x_seller_id and x_seller_id != principal.seller_id:
            raise Problem(403, "Forbidden", "A seller key acts only for its own seller.")
        return principal.seller_id
    if principal.role == "system":
        if not x_seller_id:
            raise Problem(
                400,
                "Seller required",
                "A system key must name the seller in the X-Seller-Id header.",
                errors=[{"field": "header.X-Seller-Id", "message": "required"}],
            )
        return x_seller_id
    raise Problem(
        403, "Forbidden", "An ops key reads and operates; it does not change sellers' data."
    )


async def visible_seller(
    principal: CurrentPrincipal,
    x_seller_id: SellerHeader = None,
) -> str | None:
    """The seller whose data a read may see; None means every seller (ops and system only)."""
    if principal.role == "seller":
        if x_seller_id and x_seller_id != principal.seller_id:
            raise Problem(403, "Forbidden", "A seller key reads only its own seller's data.")
        return principal.seller_id
    return x_seller_id


ActingSeller = Annotated[str, Depends(acting_seller)]
VisibleSeller = Annotated[str | None, Depends(visible_seller)]
