"""A real gRPC server on a free port (port 0), driven through the generated stubs.

The server runs on its own event loop in a background thread, exactly as ``gpureg serve`` runs
it (same composition root, same interceptor, same thread pool); the tests are plain synchronous
gRPC clients.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2_grpc

from registry.api.v1 import commands_pb2_grpc, compliance_pb2_grpc, events_pb2_grpc, queries_pb2_grpc
from registry.bootstrap import build_server
from registry.config import Settings
from registry.server.app import ApiServer


@dataclass
class Stubs:
    commands: commands_pb2_grpc.CommandServiceStub
    queries: queries_pb2_grpc.QueryServiceStub
    events: events_pb2_grpc.EventServiceStub
    health: health_pb2_grpc.HealthStub
    compliance: compliance_pb2_grpc.ComplianceServiceStub


class RunningServer:
    """An ApiServer serving on 127.0.0.1:<free port> from a background event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: ApiServer = build_server(settings)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="grpc-server", daemon=True)
        self._channels: list[grpc.Channel] = []

    def start(self) -> RunningServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=30)
        return self

    @property
    def registry(self) -> Any:
        return self.server.registry

    @property
    def address(self) -> str:
        return self.server.address

    def head(self) -> int:
        return int(self.registry.head())

    def channel(self) -> grpc.Channel:
        channel = grpc.insecure_channel(self.address)
        self._channels.append(channel)
        return channel

    def stubs(self, channel: grpc.Channel | None = None) -> Stubs:
        channel = channel or self.channel()
        return Stubs(
            commands=commands_pb2_grpc.CommandServiceStub(channel),
            queries=queries_pb2_grpc.QueryServiceStub(channel),
            events=events_pb2_grpc.EventServiceStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            compliance=compliance_pb2_grpc.ComplianceServiceStub(channel),
        )

    def run(self, coroutine_factory: Callable[[], Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine_factory(), self.loop)

    def stop(self, grace: float = 0) -> None:
        if self.loop.is_closed():  # stopped already
            return
        for channel in self._channels:
            channel.close()
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(grace), self.loop).result(timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            self.loop.close()
            self.server.registry.close()


@pytest.fixture
def start_server() -> Iterator[Callable[..., RunningServer]]:
    """Start servers on a store URL (with optional Settings overrides); all stopped after the test."""
    started: list[RunningServer] = []

    def start(database_url: str, **overrides: Any) -> RunningServer:
        values: dict[str, Any] = {
            "database_url": database_url,
            "listen": "127.0.0.1:0",
            "subscription_poll_seconds": 0.2,
            # A child projection process costs each server about a second to start; the tests
            # of that default (test_projection_process.py, and `gpureg serve` as a real process
            # in test_gpureg_serve.py and test_demo_load.py) ask for it.
            "projection_process": False,
            **overrides,
        }
        server = RunningServer(Settings(**values)).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., RunningServer], sqlite_url: str) -> RunningServer:
    """The API on a fresh SQLite file store."""
    return start_server(sqlite_url)


@pytest.fixture
def api(server: RunningServer) -> Stubs:
    return server.stubs()
