"""Roles a service declares for itself (``ServiceSpec.roles``): ``python -m <service> <name>``
runs the job supervised beside the ops endpoints, ``all`` runs it too, and the shared roles
stay as they are."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

import shared.runtime
from shared.runtime import ROLES, Resources, ServiceSpec, own_roles, parts_of, serve_ops

pytestmark = pytest.mark.unit


def _spec(**roles: Any) -> ServiceSpec[Any, Any]:
    return ServiceSpec(
        name="roles-test",
        tables=cast(Any, None),
        migrations_dir=cast(Any, None),
        dependencies=cast(Any, None),
        build_app=cast(Any, None),
        handlers=cast(Any, None),
        unit_of_work=cast(Any, None),
        roles=roles,
    )


async def _listen(_: Any) -> None:
    await asyncio.Event().wait()


def test_a_declared_role_is_a_choice_and_runs_with_the_ops_endpoints() -> None:
    spec = _spec(listen=_listen)
    assert spec.role_names() == (*ROLES, "listen")
    own, ops = parts_of(spec, "listen")
    assert ops is serve_ops and own.__name__ == "run_own_roles"
    assert len(parts_of(spec, "all")) == len(parts_of(_spec(), "all")) == 5
    assert _spec().role_names() == ROLES
    with pytest.raises(KeyError):
        parts_of(_spec(), "listen")


async def test_own_roles_run_supervised_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared.runtime, "JOB_RESTART_SECONDS", (0.01, 0.02))
    runs: list[str] = []
    again = asyncio.Event()

    async def listen(_: Any) -> None:
        runs.append("listen")
        if len(runs) == 1:
            raise RuntimeError("the queue is not there yet")
        again.set()
        await asyncio.Event().wait()

    async def disabled(_: Any) -> None:
        runs.append("disabled")  # returns: done, the other role keeps running

    spec = _spec(listen=listen, disabled=disabled)
    stop = asyncio.Event()
    part = own_roles("listen", "disabled")
    task = asyncio.ensure_future(part(spec, cast(Resources[Any], object()), stop))
    await asyncio.wait_for(again.wait(), 5)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert runs.count("listen") == 2 and runs.count("disabled") == 1
