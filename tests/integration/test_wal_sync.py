"""Group fsync on SQLite (registry/infrastructure/durability.py): commits with synchronous=NORMAL,
one WAL fsync shared by the commands around it, and no command answered before its fsync."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.application import commands as cmd
from registry.bootstrap import build_registry, group_sync
from registry.config import Settings
from registry.infrastructure.durability import WalSync
from registry.infrastructure.recorders import RegistrySQLiteRecorder
from tests.e2e.conftest import RunningServer, start_server  # noqa: F401  (the fixture)


class GatedSync(WalSync):
    """A WalSync whose fsyncs wait for the test to open the gate (and can be made to fail)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail = False

    def sync(self) -> None:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        if self.fail:
            raise OSError(5, "Input/output error (injected)")
        super().sync()


@pytest.fixture
def wal_db(tmp_path: Path) -> Iterator[str]:
    registry = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/r.db"))
    try:
        registry.register_party("tester", _party("Seed"))  # the WAL file exists from here on
        yield str(tmp_path / "r.db")
    finally:
        registry.close()


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _party(name: str) -> cmd.RegisterParty:
    return cmd.parse(cmd.RegisterParty, {"name": name, "country": "KR", "roles": ["operator"],
                                         "headquarters_country": "KR"})


def test_one_fsync_serves_every_request_made_while_the_previous_one_ran(wal_db: str) -> None:
    sync = GatedSync(wal_db)
    done: list[BaseException | None] = []
    sync.request(done.append)
    assert sync.entered.wait(10)  # the first fsync is under way (held at the gate)
    for _ in range(9):
        sync.request(done.append)
    sync.gate.set()
    wait_for(lambda: len(done) == 10)
    assert done == [None] * 10
    assert sync.syncs == 2  # one for the first request, one for the nine that waited behind it
    sync.close()
    assert sync.syncs == 3  # and a last one on the way out


def test_durable_returns_after_an_fsync_that_started_after_the_call(wal_db: str) -> None:
    sync = GatedSync(wal_db)

    async def go() -> bool:
        waiting = asyncio.ensure_future(sync.durable())
        await asyncio.sleep(0.05)
        held = not waiting.done()
        sync.gate.set()
        await asyncio.wait_for(waiting, 10)
        return held

    assert asyncio.run(go()) is True
    assert sync.syncs == 1
    sync.close()


def test_a_failed_fsync_is_reported_to_every_waiter_of_its_group(wal_db: str) -> None:
    sync = GatedSync(wal_db)
    sync.fail = True
    sync.gate.set()

    async def go() -> None:
        await sync.durable()

    with pytest.raises(OSError, match="injected"):
        asyncio.run(go())
    sync.fail = False
    sync.close()


def test_with_group_sync_the_store_commits_without_its_own_fsync(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/r.db")
    registry = build_registry(settings)
    try:
        recorder = registry.recorder
        assert isinstance(recorder, RegistrySQLiteRecorder)
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL: each commit fsyncs
        assert group_sync(settings, registry) is recorder.wal_sync is not None
        registry.register_party("tester", _party("Samsung SDS"))
        with recorder.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL: the WalSync fsyncs, after the commit
    finally:
        registry.close()


def test_an_in_memory_store_and_a_switched_off_setting_keep_one_fsync_per_commit(tmp_path: Path) -> None:
    memory = build_registry(Settings(database_url="sqlite:///:memory:"))
    off = Settings(database_url=f"sqlite:///{tmp_path}/r.db", group_sync=False)
    on_file = build_registry(off)
    try:
        assert group_sync(Settings(database_url="sqlite:///:memory:"), memory) is None
        assert group_sync(off, on_file) is None
    finally:
        memory.close()
        on_file.close()


def _gate(server: RunningServer) -> GatedSync:
    """Swap the server's WalSync fsync for a gated one (the lane calls durability.request)."""
    durability = server.server.durability
    assert durability is not None
    gated = GatedSync(durability.wal_path.removesuffix("-wal"))
    durability.sync = gated.sync  # type: ignore[method-assign]
    gated.syncs = 0
    return gated


def party_request(name: str, request_id: str = "") -> c.RegisterPartyRequest:
    return c.RegisterPartyRequest(request_id=request_id or f"r-{uuid.uuid4()}", name=name, country="KR",
                                  roles=["operator"],
                                  headquarters_country="KR")


def test_the_server_answers_a_command_only_after_its_fsync(
    start_server: Callable[..., RunningServer], sqlite_url: str,  # noqa: F811
) -> None:
    server = start_server(sqlite_url)
    gated = _gate(server)
    api = server.stubs()
    call = api.commands.RegisterParty.future(party_request("Kakao"), timeout=60)
    assert gated.entered.wait(10)  # committed; its fsync is held at the gate
    assert server.head() > 0
    assert not call.done()
    gated.gate.set()
    assert call.result().position == server.head()


def test_a_command_whose_fsync_failed_is_not_acknowledged_and_a_retry_is_answered(
    start_server: Callable[..., RunningServer], sqlite_url: str,  # noqa: F811
) -> None:
    server = start_server(sqlite_url)
    gated = _gate(server)
    gated.fail = True
    gated.gate.set()
    api = server.stubs()
    request = party_request("NHN Cloud", request_id="7e1d3c4a-3f57-4b53-9a38-2f7d6f1c1a01")
    with pytest.raises(grpc.RpcError) as refused:
        api.commands.RegisterParty(request, timeout=60)
    assert refused.value.code() == grpc.StatusCode.INTERNAL
    gated.fail = False  # the disk is back: the client retries the same request
    retried = api.commands.RegisterParty(request, timeout=60)
    assert retried.replayed  # it had committed; now that is on disk, it is acknowledged
    assert retried.position == server.head()


def test_a_log_read_stops_at_the_head_it_made_durable_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    reader, writer = build_registry(Settings(database_url=url)), build_registry(Settings(database_url=url))
    try:
        writer.register_party("tester", _party("Samsung SDS"))
        head = reader.head()
        recorder = reader.recorder
        assert isinstance(recorder, RegistrySQLiteRecorder)
        synced: list[int] = []

        class CommitDuringSync(WalSync):
            """Another process commits after the reader noted the head, before its fsync ends."""

            def sync(self) -> None:
                synced.append(writer.head())
                if len(synced) == 1:
                    writer.register_party("tester", _party("SK Telecom"))
                super().sync()

        recorder._log_sync = CommitDuringSync(recorder._log_sync.wal_path.removesuffix("-wal"))  # type: ignore[union-attr]
        first = reader.read_log(0, 100)
        assert [n.id for n in first][-1] == head  # not the commit that landed during the fsync
        assert reader.head() > head
        second = reader.read_log(0, 100)
        assert [n.id for n in second][-1] == reader.head()  # the next read, after its own fsync
        assert len(synced) == 2  # one fsync per read that finds new events
        reader.read_log(0, 100)
        assert len(synced) == 2  # nothing new since: nothing to sync
    finally:
        reader.close()
        writer.close()
