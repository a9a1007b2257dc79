"""``gpureg serve`` as an operator runs it: a separate process that says where it listens, serves,
and on SIGTERM drains in-flight calls and exits cleanly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import commands_pb2_grpc, events_pb2, events_pb2_grpc
from registry.bootstrap import build_registry
from registry.config import Settings
from tests.e2e.world import new_request_id

GPUREG = Path(sys.executable).with_name("gpureg")


def test_gpureg_serve_announces_its_address_serves_and_drains_on_sigterm(sqlite_url: str) -> None:
    process = subprocess.Popen(
        [
            str(GPUREG),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            sqlite_url,
            "--grace-seconds",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announcement = process.stdout.readline()
        found = re.search(r"listening on (127\.0\.0\.1:\d+)", announcement)
        assert found, (
            f"no address announced: {announcement!r} {process.stderr.read() if process.stderr else ''}"
        )
        with grpc.insecure_channel(found.group(1)) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
            placed = commands_pb2_grpc.CommandServiceStub(channel).RegisterParty(
                c.RegisterPartyRequest(request_id=new_request_id(),
                    name="Samsung SDS", country="KR", roles=["operator"], headquarters_country="KR"
                ),
                timeout=30,
            )
            stream = events_pb2_grpc.EventServiceStub(channel).SubscribeEvents(
                events_pb2.SubscribeEventsRequest(), timeout=60
            )
            first = [next(stream), next(stream)]  # the event, then the caught-up checkpoint

            process.send_signal(signal.SIGTERM)
            rest = list(stream)  # an in-flight subscription is ended cleanly, not cut off
            assert stream.code() == grpc.StatusCode.OK

        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert [m.WhichOneof("content") for m in first] == ["events", "checkpoint"]
    assert [m.checkpoint.position for m in rest] == [placed.position]
    assert process.returncode == 0, err
    assert "stopping" in out and out.rstrip().endswith("gpureg: stopped")
    registry = build_registry(Settings(database_url=sqlite_url))
    try:
        assert registry.head() == placed.position
    finally:
        registry.close()
