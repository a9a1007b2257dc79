"""The composition root: the one place that wires settings to concrete infrastructure."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
from eventsourcing.persistence import PersistenceError

from registry.application.service import Registry
from registry.config import Settings
from registry.infrastructure.postgres_recorder import RegistryPostgresRecorder
from registry.infrastructure.store import ensure_postgres_schema, event_store_env, store_unavailable
from registry.server.stream_rendering import install as install_stream_renderer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from projections.queries import ReadModels
    from projections.read_side import ReadSide
    from registry.epcis.http import EpcisHttpServer
    from registry.infrastructure.durability import WalSync
    from registry.journal.service import Journal
    from registry.observability.setup import Observability
    from registry.server.app import ApiServer


def build_registry(
    settings: Settings | None = None, clock: Callable[[], datetime] | None = None
) -> Registry:
    """Open the event store named by ``settings.database_url`` and return the application."""
    install_stream_renderer()  # the event_stream projection renders with the server's renderer
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
    if isinstance(registry.recorder, RegistryPostgresRecorder):
        registry.recorder.one_round_trip = settings.pg_group_write == "one"
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
    tracer_provider: TracerProvider | None = None,
) -> ApiServer:
    """The gRPC API server for ``settings`` (not started: ``await server.start()``)."""
    from registry.server.app import ApiServer

    settings = settings or Settings()
    registry = registry or build_registry(settings, clock)
    read_side = build_read_side(settings, registry) if with_read_side else None
    if read_side is not None:  # officers' decisions name findings of the compliance read model
        registry.configure_compliance(findings=read_side.read_models, reference=read_side.read_models)
    journal = build_journal(settings, registry)
    replica = build_replica_reads(settings) if settings.read_database_url else None
    return ApiServer(settings, registry, read_side, durability=group_sync(settings, registry),
                     journal=journal,
                     observability=build_observability(settings, registry, read_side, journal, tracer_provider),
                     replica=replica)


@dataclass
class ReplicaReads:
    """What a server reads from a PostgreSQL hot standby: the log (subscriptions) through a
    read-only registry, and the read models (which the primary's projections write and streaming
    replication copies). Nothing here writes: a standby refuses writes."""

    registry: Registry
    read_models: ReadModels

    def close(self) -> None:
        self.read_models.engine.dispose()
        self.registry.close()


def build_replica_reads(settings: Settings) -> ReplicaReads:
    from projections.db import create_readmodel_engine
    from projections.queries import ReadModels

    url = settings.read_database_url
    if not url or not url.split(":", 1)[0].startswith("postgres"):
        from registry.domain.errors import InvalidField

        raise InvalidField.one("read_database_url", "must be a postgresql:// URL of a streaming replica")
    env = event_store_env(url)
    env["CREATE_TABLE"] = "n"  # a standby is read-only: the primary created the tables
    env["AGGREGATE_CACHE_MAXSIZE"] = "0"
    registry = Registry(env=env, snapshot_interval=settings.snapshot_interval)
    return ReplicaReads(registry, ReadModels(create_readmodel_engine(url), registry))


def build_observability(
    settings: Settings, registry: Registry, read_side: ReadSide | None = None, journal: Journal | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Observability:
    """Metrics, access log and traces of one server (registry/observability); ``tracer_provider``
    overrides the OTLP one (tests pass an in-memory exporter's)."""
    from registry.observability.setup import Observability
    from registry.observability.tracing import otlp_provider

    obs = Observability(
        metrics_listen=settings.metrics_listen, access_log=settings.access_log,
        tracer_provider=tracer_provider or otlp_provider(settings.otlp_endpoint),
    )
    obs.watch_registry(registry)
    if read_side is not None and read_side.read_models is not None:
        obs.watch_read_models(read_side.read_models.projection_status)
        obs.instrument_engine(read_side.read_models.engine)
    if journal is not None:
        obs.watch_journal(journal)
    return obs


def group_sync(settings: Settings, registry: Registry) -> WalSync | None:
    """On a SQLite file, commands share fsyncs (registry/infrastructure/durability.py)."""
    from registry.infrastructure.recorders import RegistrySQLiteRecorder

    if settings.group_sync and isinstance(registry.recorder, RegistrySQLiteRecorder):
        return registry.recorder.defer_sync()
    return None


def build_journal(settings: Settings, registry: Registry) -> Journal:
    """The journal of the registry's store, with the configured signing and witness keys."""
    from registry.journal.note import Signer, Verifier
    from registry.journal.service import Journal

    signer = Signer.load(settings.journal_key_file) if settings.journal_key_file else None
    old = [Verifier.parse(k) for k in settings.journal_public_keys.split(",") if k.strip()]
    witnesses = [Verifier.parse(k) for k in settings.journal_witness_keys.split(",") if k.strip()]
    return Journal(registry.recorder, signer=signer, log_keys=old, witness_keys=witnesses)
def build_epcis_http(server: ApiServer, port: int) -> EpcisHttpServer:
    """The EPCIS 2.0 REST binding for ``server``'s registry on its listen host and ``port``.

    Captures run on a command lane of their own that shares the server's durability (on a SQLite
    file, an answer only after the WAL fsync); every request passes the gRPC server's own gate
    (registry.epcis.http.gate_of: one identity, one matrix, one confinement, one denial log).
    With TLS configured for gRPC the binding serves HTTPS with the same certificate and key and
    authenticates by bearer token (client certificates are gRPC's); without TLS it serves only a
    loopback address (transport.plan_security already refuses any other without TLS).
    """
    from registry.epcis.http import EpcisHttpServer, build_app, gate_of
    from registry.epcis.named_queries import NamedQueries
    from registry.epcis.subscription_store import SubscriptionStore
    from registry.server.auth import is_loopback
    from registry.server.concurrency import CommandLane
    from registry.server.transport import InsecureConfiguration

    settings = server.settings
    host = settings.listen.rsplit(":", 1)[0].strip("[]") or "127.0.0.1"
    tls = (settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
    if tls is None and not is_loopback(f"{host}:0"):
        raise InsecureConfiguration(f"refusing to serve the EPCIS REST binding on {host} without TLS")
    if tls is not None and server.security.authenticator.tokens is None:
        raise InsecureConfiguration(
            "the EPCIS REST binding authenticates by bearer token only: add --token-keys (gpureg tokens keygen)")
    lane = CommandLane(1, server.durability)
    named = NamedQueries(server.registry, SubscriptionStore.open(settings.database_url, settings.epcis_secret_key))
    app = build_app(server.registry, gate_of(lambda: server.auth), run_command=lane, named=named)
    return EpcisHttpServer(app, host, port, on_stop=lane.shutdown, tls=tls)
