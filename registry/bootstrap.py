"""The composition root: the one place that wires settings to concrete infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from registry.application.service import Registry
from registry.config import Settings
from registry.infrastructure.store import ensure_postgres_schema, event_store_env


def build_registry(
    settings: Settings | None = None, clock: Callable[[], datetime] | None = None
) -> Registry:
    """Open the event store named by ``settings.database_url`` and return the application."""
    settings = settings or Settings()
    env = event_store_env(settings.database_url)
    ensure_postgres_schema(settings.database_url)
    env["IS_SNAPSHOTTING_ENABLED"] = "y"
    # Keep hot aggregates in memory; each load fast-forwards them from the store, so several
    # processes on one database still see each other's writes.
    env["AGGREGATE_CACHE_MAXSIZE"] = str(settings.aggregate_cache_size)
    registry = Registry(env=env, clock=clock, snapshot_interval=settings.snapshot_interval)
    registry.configure_compliance(screening_threshold=settings.screening_threshold)
    return registry
