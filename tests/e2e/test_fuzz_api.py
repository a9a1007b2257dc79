"""Every RPC fuzzed from its descriptor against a real server (a bounded run; `make fuzz` runs long).

Invariants for each request (tests/fuzzing.py): never INTERNAL or UNKNOWN, no exception text in a
message, and a refused request writes nothing (the log head is unchanged).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from registry.config import Settings
from tests.e2e.conftest import RunningServer
from tests.e2e.world import build_world
from tests.fuzzing import Figures, Fuzzer, Method, methods, request_bytes

EXAMPLES = int(os.environ.get("GPUREG_FUZZ_EXAMPLES", "25"))
METHODS = methods()


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    server = RunningServer(Settings(database_url=f"sqlite:///{path}/registry.db", listen="127.0.0.1:0",
                                    projection_process=False, subscription_poll_seconds=0.2)).start()
    try:
        build_world(server.stubs())  # some reference data, so generated ids sometimes hit nothing real
        yield Fuzzer(server.channel(), server.head, Figures())
    finally:
        server.stop()


def test_every_rpc_of_every_service_is_fuzzed() -> None:
    services = {m.path.split("/")[1] for m in METHODS}

    assert {"registry.api.v1.CommandService", "registry.api.v1.QueryService", "registry.api.v1.EventService",
            "registry.api.v1.ComplianceService", "registry.api.v1.ReportService", "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"} == services
    assert len(METHODS) >= 40


@pytest.mark.parametrize("method", METHODS, ids=[m.path for m in METHODS])
def test_a_fuzzed_request_is_answered_within_the_invariants(fuzzer: Fuzzer, method: Method) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture, HealthCheck.large_base_example])
    @given(request_bytes(method))
    def one(request: tuple[str, bytes]) -> None:
        kind, payload = request
        fuzzer.check(method, kind, payload)

    before = len(fuzzer.figures.violations)
    one()

    assert fuzzer.figures.violations[before:] == []
    assert fuzzer.figures.requests[method.path] >= EXAMPLES
