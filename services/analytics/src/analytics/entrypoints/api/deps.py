"""FastAPI dependencies of analytics' API, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from analytics.dependencies import Dependencies
from analytics.service_layer.ports import DeadLetterCounts
from analytics.service_layer.unit_of_work import UnitOfWork
from shared.api.auth import VisibleSeller
from shared.api.problems import Problem


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.resources.deps
    return deps


async def _dependencies(request: Request) -> Dependencies:
    return _deps(request)


async def _uow(request: Request) -> UnitOfWork:
    return _deps(request).uow()


async def _dead_letters(request: Request) -> DeadLetterCounts:
    letters: DeadLetterCounts = request.app.state.resources.dead_letters
    return letters


async def one_seller(seller: VisibleSeller) -> str:
    """The seller a per-seller read is about; ops and system keys must name it."""
    if seller is None:
        raise Problem(
            400,
            "Seller required",
            "This report is per seller: name it in the X-Seller-Id header.",
            errors=[{"field": "header.X-Seller-Id", "message": "required for ops/system keys"}],
        )
    return seller


Deps = Annotated[Dependencies, Depends(_dependencies)]
Uow = Annotated[UnitOfWork, Depends(_uow)]
DeadLetters = Annotated[DeadLetterCounts, Depends(_dead_letters)]
OneSeller = Annotated[str, Depends(one_seller)]
