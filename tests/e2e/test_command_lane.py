"""Commands run on their own lane of threads: one at a time on SQLite (its single writer), several
at once on PostgreSQL; queries never wait behind them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import queries_pb2 as q
from registry.config import Settings
from tests.e2e.conftest import RunningServer
from tests.e2e.world import new_request_id


class Watched:
    """Wraps Registry.register_party: records the threads it runs on and how many run at once."""

    def __init__(self, server: RunningServer, hold: Callable[[], None]) -> None:
        self.inner = server.registry.register_party
        self.hold = hold
        self.threads: set[str] = set()
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        server.registry.register_party = self  # the servicer looks it up on every call

    def __call__(self, *args: Any) -> Any:
        with self._lock:
            self.threads.add(threading.current_thread().name)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.hold()
            return self.inner(*args)
        finally:
            with self._lock:
                self.running -= 1


def party(n: int) -> c.RegisterPartyRequest:
    return c.RegisterPartyRequest(request_id=new_request_id(), name=f"Operator {n}", country="KR", roles=["operator"],
                                  headquarters_country="KR")


def test_commands_on_sqlite_run_one_at_a_time_on_the_command_lane(
    start_server: Callable[..., RunningServer], sqlite_url: str,
) -> None:
    server = start_server(sqlite_url, worker_threads=8)
    watched = Watched(server, hold=lambda: threading.Event().wait(0.05))
    api = server.stubs()
    calls = [api.commands.RegisterParty.future(party(n), timeout=60) for n in range(6)]
    assert all(call.result().aggregate_id for call in calls)
    assert watched.most == 1
    assert all(name.startswith("gpureg-command") for name in watched.threads), watched.threads


def test_commands_on_postgresql_run_side_by_side(
    start_server: Callable[..., RunningServer], postgres_url: str,
) -> None:
    meet = threading.Barrier(2, timeout=20)  # only two commands running at once get past it
    server = start_server(postgres_url)
    assert Settings(database_url=postgres_url).command_lane_threads == server.settings.worker_threads
    watched = Watched(server, hold=meet.wait)
    api = server.stubs()
    calls = [api.commands.RegisterParty.future(party(n), timeout=60) for n in range(2)]
    assert all(call.result().aggregate_id for call in calls)
    assert watched.most == 2


def test_a_query_is_answered_while_a_command_holds_the_lane(
    start_server: Callable[..., RunningServer], sqlite_url: str,
) -> None:
    release = threading.Event()
    server = start_server(sqlite_url)
    Watched(server, hold=lambda: release.wait(30))
    api = server.stubs()
    held = api.commands.RegisterParty.future(party(0), timeout=60)
    try:
        status = api.queries.GetProjectionStatus(q.GetProjectionStatusRequest(), timeout=10)
        assert not held.done()
        assert status.head >= 0
    finally:
        release.set()
    assert held.result().aggregate_id


@pytest.mark.parametrize(("url", "explicit", "expected"), [
    ("sqlite:///var/r.db", None, 1),
    ("sqlite+pysqlite:///var/r.db", None, 1),
    ("postgresql://postgres@127.0.0.1/test", None, 8),
    ("sqlite:///var/r.db", 3, 3),
])
def test_the_command_lane_has_one_thread_on_sqlite_unless_told(
    url: str, explicit: int | None, expected: int,
) -> None:
    assert Settings(database_url=url, worker_threads=8, command_threads=explicit).command_lane_threads == expected
