"""Production shape on PostgreSQL, as separate processes: three ``gpureg serve`` behind one client
address (gRPC client-side round-robin over the three), two ``gpureg projections run`` workers (one
active, one hot standby). Commands go through all servers at once; one server and the active
worker are killed (SIGKILL) midway. Clients retry what was not acknowledged with the same
request_id, as the API tells them to. Afterwards: no acknowledged command is lost, none is
recorded twice, a serial contested through two servers has exactly one owner, a retry through
another server replays the original result, and the read models equal a rebuild from the log.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client.parser import text_string_to_metric_families

from projections.catalog import default_projections
from projections.db import open_engine
from projections.queries import ReadModels
from projections.runner import rebuild
from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import commands_pb2_grpc
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.demo.server_process import ServerProcess, serve_in_subprocess
from tests.builders import World, make_world
from tests.projection_workload import dump_active

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GPUREG = [str(Path(sys.executable).with_name("gpureg"))]
if not Path(GPUREG[0]).exists():
    GPUREG = [sys.executable, "-c", "from registry.cli import main; main()"]
METRICS = re.compile(r"metrics \(Prometheus\) at http://(\S+)/metrics")
ORDERS = 90
CONTESTED = 4
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}


def _ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def scrape(address: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
        return {f.name: f for f in text_string_to_metric_families(r.read().decode())}


def rpcs_served(address: str) -> float:
    return sum(s.value for s in scrape(address)["gpureg_rpc_requests"].samples if s.name.endswith("_total"))


def wait_for(pattern: re.Pattern[str], text: Any, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = pattern.search(text())
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise AssertionError(f"{pattern.pattern} not found in:\n{text()}")


class Worker:
    def __init__(self, url: str, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [*GPUREG, "projections", "run", "--log-level", "WARNING", "--repoll-interval", "0.2",
             "--standby-interval", "0.1", "--metrics-listen", "127.0.0.1:0"],
            env={**os.environ, "GPUREG_DATABASE_URL": url}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )
        self.metrics = wait_for(METRICS, lambda: log.read_text(errors="replace"), timeout=180)

    @property
    def worker_id(self) -> str:
        return f"{socket.gethostname()}:{self.proc.pid}"


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, World, list[ServerProcess], list[Worker]]]:
    # Small connection pools (2 open, up to 10): five processes share a PostgreSQL whose
    # max_connections (100 by default) other test runs may be using too.
    postgres_url += "&pool_size=2&max_overflow=8"
    registry = build_registry(Settings(database_url=postgres_url))
    world = make_world(registry)
    env = {"GPUREG_RUN_PROJECTIONS": "false", "GPUREG_METRICS_LISTEN": "127.0.0.1:0", "GPUREG_LOG_LEVEL": "WARNING"}
    with ExitStack() as stack:
        servers = [stack.enter_context(serve_in_subprocess(postgres_url, extra_env=env, startup_timeout=180))
                   for _ in range(3)]
        workers = [Worker(postgres_url, tmp_path / f"worker-{i}.log") for i in range(2)]
        try:
            yield postgres_url, world, servers, workers
        finally:
            for w in workers:
                if w.proc.poll() is None:
                    w.proc.kill()
                w.proc.wait(timeout=30)
            registry.close()


def test_three_servers_and_two_workers_lose_nothing_duplicate_nothing_and_survive_a_kill(
    cluster: tuple[str, World, list[ServerProcess], list[Worker]],
) -> None:
    url, world, servers, workers = cluster
    registry = world.registry
    metrics = [wait_for(METRICS, lambda s=s: "\n".join(s.output)) for s in servers]
    # Serial contests: pairs of cleared batches, each pair to claim the same serials via two servers.
    pairs = []
    for k in range(CONTESTED):
        a, b = world.order(4, po_number=f"PO-PAIR-{k}a"), world.order(4, po_number=f"PO-PAIR-{k}b")
        world.clear(a, 4)
        world.clear(b, 4)
        pairs.append((a, b))

    # One address for clients: round-robin over the three servers.
    target = "ipv4:" + ",".join(s.address for s in servers)
    balanced = grpc.insecure_channel(target, options=[("grpc.lb_policy_name", "round_robin")])
    direct = [grpc.insecure_channel(s.address) for s in servers]
    api = commands_pb2_grpc.CommandServiceStub(balanced)
    acked: dict[str, c.PlaceOrderResponse] = {}
    lock = threading.Lock()
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def order(i: int) -> c.PlaceOrderRequest:
        return c.PlaceOrderRequest(
            request_id=f"cluster-order-{i:04d}", occurred_at=_ts(t0), po_number=f"PO-CL-{i:04d}",
            supplier_id=str(world.nvidia), buyer_id=str(world.samsung), model_id=str(world.b200), quantity=8,
            unit_price="38500.00", currency="USD", allocation_program="samsung-ai-factory")

    def send_until_acked(i: int) -> None:
        request = order(i)
        for _ in range(100):
            try:
                response = api.PlaceOrder(request, timeout=20)
            except grpc.RpcError as e:
                assert e.code() in RETRYABLE, (i, e.code(), e.details())
                time.sleep(0.05)
                continue
            with lock:
                acked[request.request_id] = response
            return
        raise AssertionError(f"order {i} never acknowledged")

    def client(lane: int) -> None:
        for i in range(lane, ORDERS, 6):
            send_until_acked(i)

    contest: dict[int, list[str]] = {}

    def claim(k: int, batch: Any, via: int) -> None:
        stub = commands_pb2_grpc.CommandServiceStub(direct[via])
        units = [c.UnitIdentity(serial=f"SN-CLUSTER-{k}-{n}") for n in range(4)]
        request = c.RegisterSerialsRequest(request_id=f"claim-{k}-{via}", batch_id=str(batch), units=units,
                                           occurred_at=_ts(t0 + timedelta(days=3)))
        try:
            stub.RegisterSerials(request, timeout=30)
            outcome = "ok"
        except grpc.RpcError as e:
            outcome = e.code().name
        with lock:
            contest.setdefault(k, []).append(outcome)

    threads = [threading.Thread(target=client, args=(lane,)) for lane in range(6)]
    threads += [threading.Thread(target=claim, args=(k, pair[j], j)) for k, pair in enumerate(pairs) for j in (0, 1)]
    for t in threads:
        t.start()

    # Midway: every server has served calls; kill one server and the active worker.
    deadline = time.monotonic() + 120
    while len(acked) < ORDERS // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    served_before_kill = [rpcs_served(m) for m in metrics]
    read_models = ReadModels(open_engine(Settings(database_url=url)), registry)
    active = {st.worker for st in read_models.projection_status() if st.state == "active"}
    victim = next(w for w in workers if w.worker_id in active)
    standby = next(w for w in workers if w is not victim)
    servers[2].process.kill()
    victim.proc.send_signal(signal.SIGKILL)
    for t in threads:
        t.join(timeout=180)
    assert not any(t.is_alive() for t in threads)
    assert all(n > 0 for n in served_before_kill), served_before_kill  # all three took commands

    # Idempotency across servers: a retry through another server replays the original result.
    for i in range(0, ORDERS, 15):
        first = acked[f"cluster-order-{i:04d}"]
        again = commands_pb2_grpc.CommandServiceStub(direct[i % 2]).PlaceOrder(order(i), timeout=30)
        assert (again.aggregate_id, again.version, again.position) == (first.aggregate_id, first.version,
                                                                      first.position)
        assert again.replayed

    # Nothing acknowledged lost, nothing twice.
    log = registry.recorder.select_notifications(start=None, limit=10**7)
    events = [registry.mapper.to_domain_event(n) for n in log]
    orders = Counter(e.po_number for e in events if type(e).__name__ == "Ordered"
                     and e.po_number.startswith("PO-CL-"))
    assert len(acked) == ORDERS
    assert orders == Counter({f"PO-CL-{i:04d}": 1 for i in range(ORDERS)})
    at = {(str(n.originator_id), n.originator_version): n.id for n in log}
    ids = {n.id for n in log}
    for response in acked.values():  # the position is the command's last event (its request record)
        assert at[(response.aggregate_id, response.version)] <= response.position
        assert response.position in ids

    # Serial uniqueness across servers: one owner per contested serial set.
    for k, (a, b) in enumerate(pairs):
        assert sorted(contest[k]).count("ok") == 1, contest[k]
        owners = set(registry.recorder.claimed([f"SN-CLUSTER-{k}-{n}" for n in range(4)]).values())
        assert len(owners) == 1 and owners <= {a, b}

    # The standby took over: it reports (on its metrics port) every projection at the head.
    head = registry.head()
    assert read_models.wait_for_position(head, timeout=120), standby.log.read_text(errors="replace")
    assert {st.worker for st in read_models.projection_status() if st.state == "active"} == {standby.worker_id}
    positions = scrape(standby.metrics)["gpureg_projection_position"].samples
    assert {s.labels["projection"] for s in positions} == {p.name for p in default_projections()}
    assert all(s.value == head for s in positions)

    # Read models equal a rebuild from the log.
    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(timeout=60) == 0
    engine = read_models.engine
    try:
        for projection in default_projections():
            incremental = dump_active(engine, projection)
            rebuild(registry, engine, projection)
            assert dump_active(engine, projection) == incremental, projection.name
    finally:
        engine.dispose()
        balanced.close()
        for ch in direct:
            ch.close()
