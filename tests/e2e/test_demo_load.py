"""The demo: a small Korea deployment loaded through a real ``gpureg serve`` process over gRPC."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from projections import catalog
from projections.db import open_engine
from projections.queries import ReadModels
from registry.api.v1 import queries_pb2, queries_pb2_grpc
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.demo.grpc_load import load_over_grpc, to_request
from registry.demo.scenario import korea_deployment
from registry.demo.server_process import serve_in_subprocess


def test_the_scenario_is_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    a, b, other = korea_deployment(0.01, seed=7), korea_deployment(0.01, seed=7), korea_deployment(0.01, seed=8)
    assert a.batches == b.batches and a.reference == b.reference
    assert a.batches != other.batches
    assert a.gpu_count == sum(st.payload["quantity"] for st in a.batches if st.method == "place_order")
    assert len(a.anomalies) >= 10


def test_every_step_converts_to_its_rpc_request() -> None:
    scenario = korea_deployment(0.01)
    for step in scenario.steps():
        request = to_request(step)
        assert request.request_id == step.payload["request_id"]


@pytest.mark.slow
def test_a_small_deployment_loads_through_grpc_and_a_reload_writes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = korea_deployment(0.01, seed=11)
    with serve_in_subprocess(f"sqlite:///{tmp_path}/demo.db") as server:
        first = asyncio.run(load_over_grpc(server.address, scenario, concurrency=8))
        assert first.steps == len(scenario) and first.replayed == 0
        again = asyncio.run(load_over_grpc(server.address, scenario, concurrency=8))
        assert again.replayed == len(scenario)
        assert again.last_position == first.last_position

        with grpc.insecure_channel(server.address) as channel:
            queries = queries_pb2_grpc.QueryServiceStub(channel)
            units = 0
            for step in scenario.batches:
                if step.method == "place_order":
                    batch = queries.GetBatch(queries_pb2.GetBatchRequest(batch_id=str(step.payload["batch_id"])))
                    units += batch.batch.quantity
            assert units == scenario.gpu_count
    assert server.process.returncode == 0, "\n".join(server.output[-20:])


@pytest.mark.slow
def test_gpureg_demo_loads_through_its_own_server_and_waits_until_the_read_models_caught_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/demo.db"
    done = subprocess.run([str(Path(sys.executable).with_name("gpureg")), "demo", "--scale", "0.01", "--seed", "3",
                           "--database-url", url], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "projections caught up" in done.stdout

    settings = Settings(database_url=url)
    registry = build_registry(settings)
    try:
        positions = ReadModels(open_engine(settings), registry).positions()
        assert set(positions) == set(catalog.names()) and set(positions.values()) == {registry.head()}
    finally:
        registry.close()
