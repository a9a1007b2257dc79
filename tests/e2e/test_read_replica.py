"""Queries and subscriptions served from a PostgreSQL streaming replica, with read-your-writes.

The test starts its own primary and hot standby (tests/pg_replication.py: initdb, pg_basebackup -R,
pg_ctl, on free ports). The server writes to the primary and, with ``read_database_url``, answers
read-model queries and event subscriptions from the standby. Pausing the standby's WAL replay
shows that it really reads the standby: a query asking for a position the standby has not replayed
waits and answers DEADLINE_EXCEEDED even though the primary's read model has it, and a
subscription does not see the new event; once replay resumes, both do.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from projections.db import open_engine
from projections.queries import ReadModels
from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import events_pb2, queries_pb2
from registry.bootstrap import build_registry
from registry.config import Settings
from tests import pg_replication
from tests.builders import World, make_world
from tests.e2e.conftest import RunningServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def pair() -> Iterator[pg_replication.ReplicaPair]:
    reason = pg_replication.unavailable()
    if reason:
        if os.environ.get("GPUREG_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"GPUREG_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    started = pg_replication.start_replica_pair()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def world(pair: pg_replication.ReplicaPair) -> Iterator[World]:
    registry = build_registry(Settings(database_url=pair.primary))
    try:
        yield make_world(registry)
    finally:
        registry.close()


def _order(world: World, po: str) -> c.PlaceOrderRequest:
    t = Timestamp()
    t.FromDatetime(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    return c.PlaceOrderRequest(
        request_id=f"replica-{po}",
        occurred_at=t,
        po_number=po,
        supplier_id=str(world.nvidia),
        buyer_id=str(world.samsung),
        model_id=str(world.b200),
        quantity=8,
        unit_price="38500.00",
        currency="USD",
        allocation_program="samsung-ai-factory",
    )


def _replay(pair: pg_replication.ReplicaPair, action: str) -> None:
    with psycopg.connect(pair.standby, autocommit=True) as conn:
        conn.execute(f"SELECT pg_wal_replay_{action}()")


def test_queries_and_subscriptions_read_the_standby_and_wait_for_the_position_asked_for(
    pair: pg_replication.ReplicaPair,
    world: World,
    start_server: Callable[..., RunningServer],
) -> None:
    server = start_server(pair.primary, read_database_url=pair.standby)
    assert server.server.replica is not None
    api = server.stubs()
    pg_replication.wait_replayed(pair.primary, pair.standby)

    first = api.commands.PlaceOrder(_order(world, "PO-REPLICA-1"), timeout=30)
    listed = api.queries.ListBatches(queries_pb2.ListBatchesRequest(min_position=first.position), timeout=30)
    assert first.aggregate_id in {b.batch_id for b in listed.batches}  # read-your-writes through the replica

    # A live subscription from the standby, collecting on a thread.
    got: queue.Queue[int] = queue.Queue()
    stream = api.events.SubscribeEvents(
        events_pb2.SubscribeEventsRequest(after_position=first.position, include_request_records=True), timeout=120
    )

    def collect() -> None:
        try:
            for message in stream:
                for e in message.events.events:
                    got.put(e.position)
        except grpc.RpcError:
            pass

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()

    _replay(pair, "pause")
    try:
        second = api.commands.PlaceOrder(_order(world, "PO-REPLICA-2"), timeout=30)
        primary_models = ReadModels(open_engine(Settings(database_url=pair.primary)), server.registry)
        try:
            assert primary_models.wait_for_position(second.position, timeout=60)  # the primary has it ...
        finally:
            primary_models.engine.dispose()
        with pytest.raises(grpc.RpcError) as behind:  # ... the paused standby does not: the query waits
            api.queries.ListBatches(queries_pb2.ListBatchesRequest(min_position=second.position), timeout=1.5)
        assert behind.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        status = api.queries.GetProjectionStatus(queries_pb2.GetProjectionStatusRequest(), timeout=30)
        assert status.head >= second.position  # the log head is the primary's ...
        assert all(p.position < second.position for p in status.projections)  # ... positions the standby's
        with pytest.raises(queue.Empty):
            while True:  # nothing at or after the second order reaches the subscriber
                assert got.get(timeout=1.0) < second.position
    finally:
        _replay(pair, "resume")

    listed = api.queries.ListBatches(queries_pb2.ListBatchesRequest(min_position=second.position), timeout=30)
    assert second.aggregate_id in {b.batch_id for b in listed.batches}
    seen: list[int] = []
    while second.position not in seen:
        seen.append(got.get(timeout=30))
    stream.cancel()
    reader.join(timeout=10)
