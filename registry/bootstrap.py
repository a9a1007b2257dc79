"""The composition root: the one place that wires settings to concrete infrastructure."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
from eventsourcing.persistence import PersistenceError

from registry.application.service import Registry
from registry.config import Settings
from registry.infrastructure.store import ensure_postgres_schema, event_store_env, store_unavailable

if TYPE_CHECKING:
    from projections.read_side import ReadSide
    from registry.infrastructure.durability import WalSync
    from registry.server.app import ApiServer


def build_registry(
    settings: Settings | None = None, clock: Callable[[], datetime] | None = None
) -> Registry:
    """Open the event store named by ``settings.database_url`` and return the application."""
    settings = settings or Settings()
    env = event_store_env(settings.database_url)
    env["IS_SNAPSHOTTING_ENABLED"] = "y"
    # Keep hot aggregates in memory; each load fast-forwards them from the store, so several
    # processes on one database still see each other's writes.
    env["AGGREGATE_CACHE_MAXSIZE"] = str(settings.aggregate_cache_size)
    try:
        ensure_postgres_schema(settings.database_url)
        registry = Registry(env=env, clock=clock, snapshot_interval=settings.snapshot_interval,
                            max_occurred_ahead=timedelta(seconds=settings.max_occurred_ahead_seconds))
    except (OSError, PersistenceError, psycopg.Error, sqlite3.Error) as e:
        raise store_unavailable(settings.database_url, e) from e
    registry.configure_compliance(screening_threshold=settings.screening_threshold)
    return registry


def build_read_side(settings: Settings, registry: Registry) -> ReadSide:
    """The read models (``settings.readmodel_url``, default: next to the event store) and, unless
    ``settings.run_projections`` is off (workers run them), their runner: a child worker process
    (``settings.projection_process``, the default) or a thread of this process."""
    from projections.read_side import open_read_side

    return open_read_side(
        settings, registry, run_projections=settings.run_projections,
        in_process=not settings.projection_process, poll_interval=settings.projection_poll_seconds,
    )


def build_server(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    clock: Callable[[], datetime] | None = None,
    with_read_side: bool = True,
) -> ApiServer:
    """The gRPC API server for ``settings`` (not started: ``await server.start()``)."""
    from registry.server.app import ApiServer

    settings = settings or Settings()
    registry = registry or build_registry(settings, clock)
    read_side = build_read_side(settings, registry) if with_read_side else None
    if read_side is not None:  # officers' decisions name findings of the compliance read model
        registry.configure_compliance(findings=read_side.read_models)
    return ApiServer(settings, registry, read_side, durability=group_sync(settings, registry))


def group_sync(settings: Settings, registry: Registry) -> WalSync | None:
    """On a SQLite file, commands share fsyncs (registry/infrastructure/durability.py)."""
    from registry.infrastructure.recorders import RegistrySQLiteRecorder

    if settings.group_sync and isinstance(registry.recorder, RegistrySQLiteRecorder):
        return registry.recorder.defer_sync()
    return None
