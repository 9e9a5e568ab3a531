"""docker-compose.yml cannot run here (no Docker engine), so check it names what exists."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.settings import ServiceSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> str:
    return (ROOT / "docker-compose.yml").read_text()


def test_every_service_in_compose_exists_as_a_runnable_module() -> None:
    commands = re.findall(r'command: \["python", "-m", "(\w+)", "(\w+)"\]', _compose())
    assert {name for name, _ in commands} == {"ingest", "fulfillment", "defects", "analytics"}
    for name, role in commands:
        assert role in ("migrate", "all")
        assert (ROOT / "services" / name / "pyproject.toml").exists(), name
        assert importlib.util.find_spec(f"{name}.__main__") is not None, name


def test_every_service_directory_is_in_compose() -> None:
    compose = _compose()
    for service in (p.name for p in (ROOT / "services").iterdir() if p.is_dir()):
        assert f'"-m", "{service}", "all"' in compose, service
        assert f"orderflow_{service}" in (ROOT / "deploy" / "postgres-init.sql").read_text()


def test_compose_files_it_refers_to_exist() -> None:
    compose = _compose()
    for path in [*re.findall(r"\./(deploy/[\w.-]+)", compose), "deploy/Dockerfile"]:
        assert (ROOT / path).exists(), path


def _aliases(settings: type[BaseSettings]) -> set[str]:
    return {
        f.validation_alias
        for f in settings.model_fields.values()
        if isinstance(f.validation_alias, str)
    }


def test_every_variable_a_service_container_gets_is_a_setting_it_reads() -> None:
    compose = yaml.safe_load(_compose())
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if command[:2] != ["python", "-m"]:
            continue
        settings = [
            v
            for v in vars(importlib.import_module(f"{command[2]}.settings")).values()
            if isinstance(v, type) and issubclass(v, ServiceSettings)
        ]
        known = set().union(*(_aliases(s) for s in settings))
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name}: {sorted(unknown)} are no setting of {command[2]}"
