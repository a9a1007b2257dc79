"""The composition root: the one place that wires settings to concrete infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from registry.application.service import Registry
from registry.config import Settings
from registry.infrastructure.store import ensure_postgres_schema, event_store_env

if TYPE_CHECKING:
    from projections.read_side import ReadSide
    from registry.epcis.http import EpcisHttpServer
    from registry.infrastructure.durability import WalSync
    from registry.journal.service import Journal
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
        registry.configure_compliance(findings=read_side.read_models, reference=read_side.read_models)
    return ApiServer(settings, registry, read_side, durability=group_sync(settings, registry),
                     journal=build_journal(settings, registry))


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
    lane = CommandLane(1, server.durability.durable if server.durability is not None else None)
    app = build_app(server.registry, gate_of(lambda: server.auth), run_command=lane)
    return EpcisHttpServer(app, host, port, on_stop=lane.shutdown, tls=tls)
