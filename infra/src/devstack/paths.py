"""Locations: repository root, run directory, download cache."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root(start: Path | None = None) -> Path:
    """The repository root: ``$ORDERFLOW_ROOT``, else the first ancestor holding ``services/``.

    Falls back to the first ancestor whose pyproject.toml declares the uv workspace.
    """
    env = os.environ.get("ORDERFLOW_ROOT")
    if env:
        return Path(env).resolve()
    origins = [start or Path.cwd(), Path(__file__)]
    for origin in origins:
        for candidate in [origin.resolve(), *origin.resolve().parents]:
            if (candidate / "services").is_dir() and (candidate / "pyproject.toml").is_file():
                return candidate
    for origin in origins:
        for candidate in [origin.resolve(), *origin.resolve().parents]:
            if _is_workspace_root(candidate):
                return candidate
    raise RuntimeError("cannot find the Orderflow repository root (a directory with services/)")


def _is_workspace_root(path: Path) -> bool:
    pyproject = path / "pyproject.toml"
    return pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text()


def run_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / ".run"


def cache_root() -> Path:
    """The per-machine download cache (``ORDERFLOW_CACHE_DIR``, else ~/.cache/orderflow)."""
    env = os.environ.get("ORDERFLOW_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "orderflow"


def project_dir(name: str) -> Path:
    """``infra/<name>`` (a Java program's Maven project, lock file and configuration)."""
    here = Path(__file__).resolve().parents[2] / name
    if (here / "pom.xml").is_file():
        return here
    return repo_root() / "infra" / name


def kafka_project_dir() -> Path:
    """``infra/kafka`` (Maven project and log4j.properties)."""
    return project_dir("kafka")
