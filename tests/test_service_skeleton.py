"""Every service (and each bounded context of ingest) has the same skeleton, so a reader always
knows where to look (docs/adr/0045-one-skeleton-per-service.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[1] / "services"

CONTEXTS = {
    "fulfillment": SERVICES / "fulfillment/src/fulfillment",
    "defects": SERVICES / "defects/src/defects",
    "analytics": SERVICES / "analytics/src/analytics",
    "ingest.intake": SERVICES / "ingest/src/ingest/intake",
    "ingest.amazon": SERVICES / "ingest/src/ingest/amazon",
}

SKELETON = (
    "domain/model.py",
    "domain/commands.py",
    "domain/events.py",
    "domain/errors.py",
    "service_layer/handlers.py",
    "service_layer/queries.py",
    "service_layer/unit_of_work.py",
    "adapters/orm.py",
    "adapters/repository.py",
    "adapters/outbox.py",
    "entrypoints/api/routers",
    "entrypoints/kafka/handlers.py",
)

COMPOSITION = ("__main__.py", "settings.py", "bootstrap.py", "dependencies.py")

# Where a context differs, and why: ingest's two contexts keep one MetaData (one database, one
# migration history) at the service's top, and order intake consumes no topic.
EXCEPT = {
    "ingest.intake": {
        "adapters/orm.py": "ingest/adapters/orm.py",
        "entrypoints/kafka/handlers.py": None,
    },
    "ingest.amazon": {"adapters/orm.py": "ingest/adapters/orm.py"},
}


@pytest.mark.unit
@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_every_context_has_the_skeleton(context: str) -> None:
    root = CONTEXTS[context]
    instead = EXCEPT.get(context, {})
    missing = [
        part
        for part in SKELETON
        if not (root / part).exists()
        and not (
            part in instead
            and (instead[part] is None or (root.parent.parent / instead[part]).exists())
        )
    ]
    assert not missing, f"{context} lacks {missing}"


@pytest.mark.unit
@pytest.mark.parametrize("service", ["ingest", "fulfillment", "defects", "analytics"])
def test_every_service_has_one_composition_root(service: str) -> None:
    root = SERVICES / service / "src" / service
    missing = [part for part in COMPOSITION if not (root / part).exists()]
    assert not missing, f"{service} lacks {missing}"
