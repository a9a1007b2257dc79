"""Fixtures for the read-model tests: a registry, its read-model database and a small world."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine

from projections.db import open_engine
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from tests.builders import World, make_world


@dataclass
class ReadSide:
    url: str
    settings: Settings
    registry: Registry
    engine: Engine
    world: World
    read_models: ReadModels
    runners: list[ProjectionRunner] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # kept across hypothesis examples

    def runner(self, **options: Any) -> ProjectionRunner:
        """A runner on this store (stopped when the test ends)."""
        options.setdefault("poll_interval", 0.01)
        options.setdefault("standby_interval", 0.05)
        runner = ProjectionRunner(self.registry, self.engine, **options)
        self.runners.append(runner)
        return runner


@contextmanager
def opened(url: str) -> Iterator[ReadSide]:
    settings = Settings(database_url=url)
    registry = build_registry(settings)
    engine = open_engine(settings)
    side = ReadSide(url, settings, registry, engine, make_world(registry), ReadModels(engine, registry))
    try:
        yield side
    finally:
        for runner in side.runners:
            runner.stop()
        engine.dispose()
        registry.close()


@pytest.fixture
def read_side(store_url: str) -> Iterator[ReadSide]:
    """A registry with a small world and its read models, on SQLite and on PostgreSQL."""
    with opened(store_url) as side:
        yield side


@pytest.fixture
def pg_read_side(postgres_url: str) -> Iterator[ReadSide]:
    """The same, on PostgreSQL only (LISTEN/NOTIFY)."""
    with opened(postgres_url) as side:
        yield side
