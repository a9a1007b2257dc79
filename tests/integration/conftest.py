"""Fixtures the integration tests share: a registry on each store (``store_url``: SQLite, and
PostgreSQL where it runs) and the small reference world of :func:`tests.builders.make_world`.

A test file that needs other settings (a snapshot interval, say) defines its own ``registry``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from tests.builders import World, make_world


@pytest.fixture
def registry(store_url: str) -> Iterator[Registry]:
    app = build_registry(Settings(database_url=store_url))
    yield app
    app.close()


@pytest.fixture
def world(registry: Registry) -> World:
    return make_world(registry)
