"""The gRPC server: services, health, reflection, limits, and a clean shutdown.

Build it with :func:`registry.bootstrap.build_server` (the composition root), then either
``await server.start()`` / ``await server.stop()`` (tests, embedding) or
:func:`run_until_signalled` (``gpureg serve``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from projections.read_side import ReadSide
from registry.api.v1 import (
    commands_pb2,
    commands_pb2_grpc,
    compliance_pb2,
    compliance_pb2_grpc,
    epcis_pb2,
    epcis_pb2_grpc,
    events_pb2,
    journal_pb2,
    journal_pb2_grpc,
    locations_pb2,
    locations_pb2_grpc,
    queries_pb2,
    queries_pb2_grpc,
    reports_pb2,
    reports_pb2_grpc,
)
from registry.application.service import Registry
from registry.config import Settings
from registry.infrastructure.durability import WalSync
from registry.journal.service import Checkpointer, Journal, JournalError
from registry.observability.setup import Observability
from registry.security.scope import ScopeIndex
from registry.server.auth import AuthInterceptor, Limits
from registry.server.commands import CommandServicer
from registry.server.compliance import ComplianceServicer
from registry.server.concurrency import Blocking, CommandLane, LogNotifier
from registry.server.decoding import RequestDecodingInterceptor
from registry.server.epcis import EpcisServicer
from registry.server.events import EventServicer, add_event_service
from registry.server.journal import JournalServicer
from registry.server.locations import LocationServicer
from registry.server.queries import QueryServicer
from registry.server.reflection import enable_reflection
from registry.server.reports import ReportServicer
from registry.server.stream_rendering import RenderedEvents
from registry.server.transport import BANNER, ServerSecurity, plan_security

if TYPE_CHECKING:
    from registry.bootstrap import ReplicaReads

log = logging.getLogger("gpureg.server")

API_SERVICES: tuple[str, ...] = (
    commands_pb2.DESCRIPTOR.services_by_name["CommandService"].full_name,
    queries_pb2.DESCRIPTOR.services_by_name["QueryService"].full_name,
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    compliance_pb2.DESCRIPTOR.services_by_name["ComplianceService"].full_name,
    reports_pb2.DESCRIPTOR.services_by_name["ReportService"].full_name,
    journal_pb2.DESCRIPTOR.services_by_name["JournalService"].full_name,
    epcis_pb2.DESCRIPTOR.services_by_name["EpcisService"].full_name,
    locations_pb2.DESCRIPTOR.services_by_name["LocationService"].full_name,
)


class ListenError(RuntimeError):
    """The server cannot bind its listen address (in use, or not local)."""


class RegistryHealth(HealthServicer):  # type: ignore[misc]  # grpc ships no types
    """grpc.health.v1.Health with ``List`` (every service's status), which the library's asyncio
    servicer leaves unimplemented."""

    async def List(self, request: health_pb2.HealthListRequest, context: Any) -> health_pb2.HealthListResponse:
        return health_pb2.HealthListResponse(statuses={
            name: health_pb2.HealthCheckResponse(status=status)
            for name, status in self._server_status.items()
        })


class ApiServer:
    """The registry's gRPC API on one listen address. Create inside no particular loop; start
    and stop it from the event loop that serves it."""

    def __init__(
        self, settings: Settings, registry: Registry, read_side: ReadSide | None, durability: WalSync | None = None,
        journal: Journal | None = None, observability: Observability | None = None,
        replica: ReplicaReads | None = None,
    ) -> None:
        self.replica = replica  # reads from a PostgreSQL hot standby (bootstrap.build_replica_reads)
        self.settings = settings
        self.observability = observability or Observability()  # metrics, access log, traces
        if journal is None:
            try:
                journal = Journal(registry.recorder)
            except JournalError:  # a recorder without a journal (the recorder benchmark's)
                journal = None
        self.journal = journal
        self._checkpointer: Checkpointer | None = None
        self.registry = registry
        self.durability = durability
        self.read_side = read_side
        self.read_models = read_side.read_models if read_side is not None else None
        self.port: int | None = None
        self._server: Any = None
        self._blocking: Blocking | None = None
        self._commands: CommandLane | None = None
        self._notifier: LogNotifier | None = None
        self._health: HealthServicer | None = None
        self.security: ServerSecurity = plan_security(settings)  # refuses an unsafe configuration
        self.auth: AuthInterceptor | None = None

    def _start_journal(self, journal: Journal) -> None:
        """Initialise the journal of a store from before it, check the tail of the chain, and
        sign checkpoints (when a key is configured). A broken chain leaves the server read-only:
        every command fails with JournalBroken naming what is wrong."""
        journal.ensure()
        problem = journal.check_tail()
        if problem is not None:
            log.error("journal check failed, serving read-only: %s", problem)
            setattr(self.registry.recorder, "refuse_writes", problem)  # noqa: B010
            return
        latest = journal.latest_checkpoint()
        signed = latest[1] if latest else 0
        if journal.tree.size > signed:
            log.warning("journal: %d event(s) after the last signed checkpoint (tree size %d, positions %d-%d); "
                        "they were written before this start and are signed with the next checkpoint "
                        "(`gpureg journal verify` first if the last stop was not clean)",
                        journal.tree.size - signed, signed, journal.positions[signed], journal.positions[-1])
        if journal.signer is not None:
            self._checkpointer = Checkpointer(
                journal, self.settings.journal_checkpoint_events, self.settings.journal_checkpoint_seconds)
            self._checkpointer.start()

    @property
    def address(self) -> str:
        """The address clients dial (the listen host with the bound port)."""
        host = self.settings.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def start(self) -> int:
        """Bind, start serving, and return the bound port (useful with ``listen`` port 0)."""
        settings = self.settings
        obs = self.observability
        self._blocking = Blocking(settings.worker_threads, tracer=obs.tracer)
        self._commands = CommandLane(
            settings.command_lane_threads, self.durability,
            tracer=obs.tracer,
        )
        self._notifier = LogNotifier()
        limit = settings.max_message_bytes
        self.auth = AuthInterceptor(
            self.security.authenticator, ScopeIndex(self.registry), self._blocking,
            Limits(settings.max_subscriptions_per_principal, settings.subscriber_stall_seconds,
                   settings.rate_limit_per_second),
            certificates=self.security.credentials is not None)
        server = grpc.aio.server(
            interceptors=[*obs.server_interceptors(), self.auth, *obs.inner_interceptors(),
                          RequestDecodingInterceptor()],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # Without this, grpc binds with SO_REUSEPORT: a second server on a port in use
                # starts too and clients are split between two registries without a warning.
                ("grpc.so_reuseport", 0),
            ],
        )
        commands_pb2_grpc.add_CommandServiceServicer_to_server(  # type: ignore[no-untyped-call]
            CommandServicer(self.registry, self._commands, self._notifier), server)
        # With a replica: read-model queries and subscriptions read it; GetBatch and
        # ListBatchEvents (an aggregate's own state, no min_position) stay on the primary.
        reads = self.replica
        queries_pb2_grpc.add_QueryServiceServicer_to_server(  # type: ignore[no-untyped-call]
            QueryServicer(self.registry, self._blocking, reads.read_models if reads else self.read_models), server)
        read_models = reads.read_models if reads else self.read_models
        add_event_service(
            EventServicer(reads.registry if reads else self.registry, self._blocking, self._notifier,
                          settings.subscription_poll_seconds, settings.heartbeat_seconds,
                          kept_bytes=settings.subscription_kept_mib << 20,
                          rendered=RenderedEvents(read_models.engine) if read_models is not None else None),
            server)
        compliance_pb2_grpc.add_ComplianceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            ComplianceServicer(self.registry, self._blocking, self._notifier, self.read_models,
                               commands=self._commands), server)
        reports_pb2_grpc.add_ReportServiceServicer_to_server(  # type: ignore[no-untyped-call]
            ReportServicer(self.registry, self._blocking, self.read_models), server)
        if self.journal is not None:
            self._start_journal(self.journal)
            journal_pb2_grpc.add_JournalServiceServicer_to_server(  # type: ignore[no-untyped-call]
                JournalServicer(self.journal, self._blocking), server)
        epcis_pb2_grpc.add_EpcisServiceServicer_to_server(  # type: ignore[no-untyped-call]
            EpcisServicer(self.registry, self._blocking, self._commands, self._notifier), server)
        locations_pb2_grpc.add_LocationServiceServicer_to_server(  # type: ignore[no-untyped-call]
            LocationServicer(self.registry, self._blocking, self._commands, self._notifier, self.read_models), server)
        self._health = RegistryHealth()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        enable_reflection((*API_SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name), server)
        try:
            if self.security.credentials is None:
                port = server.add_insecure_port(settings.listen)
            else:
                port = server.add_secure_port(settings.listen, self.security.credentials)
        except RuntimeError as e:
            raise ListenError(
                f"cannot listen on {settings.listen}: the address is in use (another gpureg serve?) "
                "or not an address of this machine; pick another with --listen host:port") from e
        if self.read_side is not None:
            self.read_side.start()  # projections follow the log (child process or thread; or workers do)
            self._notifier.add_listener(self.read_side.wake)
        await server.start()
        obs.start()  # the metrics side port, if configured
        for name in API_SERVICES:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        self.port = int(port)
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking calls, end subscriptions with a last checkpoint, let in-flight calls
        finish for up to ``grace`` seconds (settings.grace_seconds by default), then release."""
        if self._server is None:
            return
        assert self._health is not None and self._notifier is not None
        assert self._blocking is not None and self._commands is not None
        await self._health.enter_graceful_shutdown()
        self._notifier.close()
        await self._server.stop(self.settings.grace_seconds if grace is None else grace)
        self._server = None
        if self._checkpointer is not None:
            self._checkpointer.stop()  # signs what was written: a clean stop leaves no unsigned tail
            self._checkpointer = None
        self._commands.shutdown()
        self._blocking.shutdown()
        if self.durability is not None:
            self.durability.close()
        if self.read_side is not None:
            self.read_side.close()
        if self.replica is not None:
            self.replica.close()
        self.observability.close()


def redacted(url: str) -> str:
    """A store URL fit for logs: the password replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def run_until_signalled(server: ApiServer, say: Callable[[str], None]) -> None:
    """Serve until SIGTERM or SIGINT, then drain and stop (what ``gpureg serve`` runs)."""
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    say(
        f"gpureg gRPC API listening on {server.address} [{server.security.mode}] "
        f"(store {redacted(server.settings.database_url)}); "
        f"services: {', '.join(API_SERVICES)}, grpc.health.v1.Health, reflection"
    )
    if server.security.development:
        say(BANNER)
    obs = server.observability
    if obs.metrics_address is not None:
        say(f"gpureg metrics (Prometheus) at http://{obs.metrics_address}/metrics")
    if obs.access_log:
        say("gpureg access log: one JSON line per RPC on stderr")
    try:
        await stop.wait()
        say(f"gpureg: stopping; draining in-flight calls (up to {server.settings.grace_seconds:g} s)")
    finally:
        await server.stop()
    say("gpureg: stopped")
