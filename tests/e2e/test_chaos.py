"""A short round of the fault suite (``make chaos`` runs the full one): kill -9 of the server and its
projection worker under load, and racing writers on hot batches, on SQLite and PostgreSQL; a
throwaway PostgreSQL cluster stopped under a server; the SQLite store's disk filled up."""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_status import rpc_status

from registry.api.v1 import commands_pb2 as c
from registry.config import Settings
from tests import pg_replication
from tests.chaos import DISK_FULL, ThrowawayPostgres, disk_full, kill_rounds, mount_refused, racing_writers
from tests.e2e.conftest import RunningServer
from tests.e2e.world import World, build_world


def test_kill_9_of_server_and_projection_worker_under_load_loses_no_acknowledged_command(
    store_url: str, tmp_path: Path
) -> None:
    seed = random.randrange(2**32)

    report = kill_rounds(store_url, tmp_path, rounds=3, clients=4, seed=seed)

    assert report.server_kills + report.worker_kills == 3, f"seed {seed}"
    assert report.acked > 0 and report.lost == 0 and report.duplicated == 0, f"seed {seed}: {report}"
    assert report.replay_failures == 0, f"seed {seed}: {report}"
    assert report.read_models_equal_rebuild, f"seed {seed}: {report}"
    assert set(report.codes) <= {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED"}, report.codes


def test_32_racing_writers_on_hot_batches_lose_no_update(store_url: str) -> None:
    report = racing_writers(store_url, writers=32, per_writer=15, hot_batches=4, seed=random.randrange(2**32))

    assert report.acked == report.commands == 32 * 15
    assert report.lost_updates == 0 and report.invariant_breaks == [], report


def test_a_full_disk_refuses_commands_unavailable_and_they_are_served_again_once_space_is_freed(
    tmp_path: Path,
) -> None:
    refused = mount_refused(tmp_path / "probe")
    if refused:
        if os.environ.get("GPUREG_REQUIRE_MOUNT") == "1":
            pytest.fail(f"GPUREG_REQUIRE_MOUNT=1 but {refused}")
        pytest.skip(refused)

    report = disk_full(tmp_path, size_mb=8, clients=4, seed=random.randrange(2**32), full_answers=10)

    assert report.disk_full_answers >= 10, report
    assert set(report.codes) <= {"OK", "UNAVAILABLE"}, report.codes  # never INTERNAL
    assert all(DISK_FULL in m for m in report.messages_full), report.messages_full
    assert report.acked_after >= 20 and report.server_restarts == 0, report
    assert report.lost == 0 and report.duplicated == 0 and report.read_models_equal_rebuild, report


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    reason = pg_replication.unavailable()
    if reason:
        if os.environ.get("GPUREG_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"GPUREG_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    # not under pytest's tmp_path: as root the cluster runs as nobody, who cannot enter it
    with tempfile.TemporaryDirectory(prefix="gpureg-pg-outage-") as tmp:
        Path(tmp).chmod(0o777)
        pg = ThrowawayPostgres(Path(tmp))
        pg.init()
        pg.start()
        try:
            yield pg
        finally:
            if (pg.data / "postmaster.pid").exists():
                pg.stop("fast")


def _order(world: World, rid: str) -> c.PlaceOrderRequest:
    return c.PlaceOrderRequest(
        request_id=rid, batch_id=rid, po_number=f"PO-{rid}", supplier_id=world.supplier, buyer_id=world.buyer,
        model_id=world.model, quantity=8, unit_price="31250.00", currency="USD")


@pytest.mark.postgres
def test_a_stopped_postgresql_is_answered_unavailable_within_a_2_s_deadline_and_served_again_without_restart(
    throwaway_postgres: ThrowawayPostgres,
) -> None:
    server = RunningServer(Settings(database_url=throwaway_postgres.url, listen="127.0.0.1:0",
                                    projection_process=False, run_projections=False)).start()
    try:
        stubs = server.stubs()
        world = build_world(stubs)
        stubs.commands.PlaceOrder(_order(world, str(uuid.uuid4())), timeout=10)

        throwaway_postgres.stop("immediate")
        pending = _order(world, str(uuid.uuid4()))
        answers = []
        # The first calls find the pool's connections broken; once those are gone (10) a call would
        # wait for a new one (5 s) without the breaker, past the 2 s deadline.
        for _ in range(14):
            with pytest.raises(grpc.RpcError) as refused:
                stubs.commands.PlaceOrder(pending, timeout=2)
            answers.append(refused.value.code())
        status = rpc_status.from_call(refused.value)
        assert answers == [grpc.StatusCode.UNAVAILABLE] * 14, answers
        assert status is not None and "event store is unavailable" in status.message

        throwaway_postgres.start()
        seen = []
        give_up = time.monotonic() + 30
        while True:  # the client retries with the same request_id, as the message says
            try:
                answer = stubs.commands.PlaceOrder(pending, timeout=2)
                break
            except grpc.RpcError as e:
                seen.append(e.code())
                assert e.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < give_up, seen
                time.sleep(0.2)
        assert answer.aggregate_id and not answer.replayed
        assert stubs.commands.PlaceOrder(pending, timeout=2).replayed
    finally:
        server.stop()
