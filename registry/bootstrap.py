"""The composition root: the one place that wires settings to concrete infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from registry.application.ports import BatchListing
from registry.application.service import Registry
from registry.config import Settings
from registry.infrastructure.store import ensure_postgres_schema, event_store_env

if TYPE_CHECKING:
    from registry.server.app import ApiServer


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


def build_batch_listing(settings: Settings, registry: Registry) -> BatchListing | None:
    """The batch read model that serves ListBatches (``settings.readmodel_url``).

    None until the projections package provides one; the server then answers ListBatches with
    UNIMPLEMENTED instead of scanning the event log.
    """
    return None


def build_server(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    batch_listing: BatchListing | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ApiServer:
    """The gRPC API server for ``settings`` (not started: ``await server.start()``)."""
    from registry.server.app import ApiServer

    settings = settings or Settings()
    registry = registry or build_registry(settings, clock)
    if batch_listing is None:
        batch_listing = build_batch_listing(settings, registry)
    return ApiServer(settings, registry, batch_listing)
