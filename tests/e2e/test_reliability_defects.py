"""The defects a newcomer's probe found (issue 14), each against a real server on a socket."""

from __future__ import annotations

import asyncio
import math
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, duration_pb2, struct_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2
from registry.api.v1 import events_pb2 as e
from registry.api.v1 import queries_pb2 as q
from registry.bootstrap import build_server
from registry.config import Settings
from registry.server.app import ListenError
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.test_grpc_errors import field_violations, refused
from tests.e2e.test_grpc_read_models import deliver
from tests.e2e.world import as_actor, build_world, clear, new_request_id, place_order, ts

GPUREG = Path(sys.executable).with_name("gpureg")
LEAKS = ("Traceback", "Error:", "Exception", "OverflowError", "DecodeError", "json_format", 'File "')


def _no_leak(message: str) -> None:
    for text in LEAKS:
        assert text not in message, f"{text!r} leaked into {message!r}"


def _raw_unary(server: RunningServer, method: str, payload: bytes) -> grpc.RpcError:
    call = server.channel().unary_unary(method, request_serializer=None, response_deserializer=None)
    return refused(lambda: call(payload, timeout=10))


# ------------------------------------------------------------------ non-finite numbers
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_in_amend_reference_fields_is_invalid_argument_naming_the_field(
    server: RunningServer, api: Stubs, bad: float
) -> None:
    w = build_world(api)
    fields = struct_pb2.Struct()
    fields.update({"address": "Seoul"})
    fields.fields["nested"].struct_value.fields["power"].number_value = bad
    head = server.head()

    error = refused(lambda: api.commands.AmendReference(c.AmendReferenceRequest(
        request_id=new_request_id(), kind=c.REFERENCE_KIND_SITE, target_id=w.site, fields=fields,
        reason="typo"), metadata=as_actor()))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "finite" in field_violations(error)["fields.nested.power"]
    _no_leak(error.details() or "")
    assert server.head() == head


# ------------------------------------------------------------------ heartbeat interval
@pytest.mark.parametrize("interval", [
    duration_pb2.Duration(seconds=2**62), duration_pb2.Duration(seconds=-(2**62)),
    duration_pb2.Duration(seconds=1, nanos=2_000_000_000), duration_pb2.Duration(seconds=10**12),
])
def test_an_out_of_range_heartbeat_interval_is_invalid_argument_without_exception_text(
    api: Stubs, interval: duration_pb2.Duration
) -> None:
    stream = api.events.SubscribeEvents(e.SubscribeEventsRequest(heartbeat_interval=interval), timeout=10)

    error = refused(lambda: next(iter(stream)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "heartbeat_interval" in field_violations(error)
    _no_leak(error.details() or "")


# ------------------------------------------------------------------ undecodable bytes
@pytest.mark.parametrize("method", [
    "/grpc.health.v1.Health/List", "/grpc.health.v1.Health/Check",
    "/registry.api.v1.QueryService/ListBatches", "/registry.api.v1.CommandService/PlaceOrder",
])
def test_undecodable_request_bytes_are_invalid_argument_for_every_kind_of_handler(
    server: RunningServer, method: str
) -> None:
    error = _raw_unary(server, method, b"\xff\xff\xff\xff")

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert method in (error.details() or "")
    _no_leak(error.details() or "")


def test_undecodable_bytes_on_the_reflection_stream_are_invalid_argument(server: RunningServer) -> None:
    call = server.channel().stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=None, response_deserializer=None)

    error = refused(lambda: list(call(iter([b"\xff\xff\xff\xff"]), timeout=10)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_health_list_names_every_service_as_serving(api: Stubs) -> None:
    listed = api.health.List(health_pb2.HealthListRequest(), timeout=10)

    assert listed.statuses["registry.api.v1.CommandService"].status == health_pb2.HealthCheckResponse.SERVING
    assert listed.statuses[""].status == health_pb2.HealthCheckResponse.SERVING


# ------------------------------------------------------------------ a port in use
def test_a_second_server_on_a_port_in_use_does_not_start(server: RunningServer, sqlite_url: str) -> None:
    second = build_server(Settings(database_url=sqlite_url.replace("registry.db", "other.db"),
                                   listen=server.address, projection_process=False), with_read_side=False)
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ListenError, match=r"cannot listen on 127\.0\.0\.1:"):
            loop.run_until_complete(second.start())
    finally:
        loop.close()
        second.registry.close()


def test_gpureg_serve_on_a_port_in_use_exits_with_a_clear_message(server: RunningServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(GPUREG), "serve", "--listen", server.address, "--database-url", f"sqlite:///{tmp_path}/b.db"],
        capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 1
    assert f"cannot listen on {server.address}" in result.stderr and "in use" in result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stdout


# ------------------------------------------------------------------ store URLs
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", [["db", "init"], ["serve", "--listen", "127.0.0.1:0"]])
def test_an_unreachable_database_url_is_one_line_naming_host_port_and_database(command: list[str]) -> None:
    port = _closed_port()
    url = f"postgresql://postgres:s3cret@127.0.0.1:{port}/registry_nowhere"

    result = subprocess.run([str(GPUREG), *command, "--database-url", url],
                            capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"host 127.0.0.1, port {port}, database registry_nowhere" in lines[0]
    assert "refused" in lines[0].lower()
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr


def test_db_init_on_a_sqlite_file_in_a_missing_directory_fails_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "dir"

    result = subprocess.run([str(GPUREG), "db", "init", "--database-url", f"sqlite:///{missing}/x.db"],
                            capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 1
    assert f"the directory {missing} does not exist" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "missing").exists()


# ------------------------------------------------------------------ request_id required
COMMAND_METHODS = [
    (service, method.name)
    for service, module in (("CommandService", c), ("ComplianceService", compliance_pb2))
    for method in module.DESCRIPTOR.services_by_name[service].methods
    if "request_id" in method.input_type.fields_by_name
]


@pytest.mark.parametrize(("service", "method"), COMMAND_METHODS)
def test_every_command_without_a_request_id_is_refused_naming_request_id(
    server: RunningServer, api: Stubs, service: str, method: str
) -> None:
    head = server.head()
    stub = api.commands if service == "CommandService" else api.compliance
    request_type = getattr(c if service == "CommandService" else compliance_pb2, f"{method}Request")

    error = refused(lambda: getattr(stub, method)(request_type(), metadata=as_actor(), timeout=10))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "required" in field_violations(error)["request_id"]
    assert server.head() == head


def test_place_order_without_a_request_id_writes_no_batch(server: RunningServer, api: Stubs) -> None:
    w = build_world(api)
    head = server.head()

    error = refused(lambda: place_order(api, w, request_id=""))

    assert set(field_violations(error)) == {"request_id"}
    assert server.head() == head


# ------------------------------------------------------------------ occurred_at in the future
def test_an_occurred_at_beyond_the_clock_skew_allowed_is_refused(server: RunningServer, api: Stubs) -> None:
    w = build_world(api)
    head = server.head()

    error = refused(lambda: place_order(api, w, occurred_at=ts(datetime.now(UTC) + timedelta(days=400))))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must not be in the future" in field_violations(error)["occurred_at"]
    assert server.head() == head
    assert place_order(api, w, occurred_at=ts(datetime.now(UTC) + timedelta(minutes=1)))  # within the skew


# ------------------------------------------------------------------ stage filter
def test_list_batches_by_a_unit_stage_finds_every_batch_holding_units_there(api: Stubs) -> None:
    w = build_world(api)
    batch = place_order(api, w, quantity=4)
    clear(api, w, batch, 4)
    position = deliver(api, w, batch, ["A1", "A2", "A3", "A4"])  # 2 installed, 2 assigned
    other = place_order(api, w, quantity=2)

    def listed(stage: str) -> list[str]:
        request = q.ListBatchesRequest(stage=stage, min_position=position)
        return [b.batch_id for b in api.queries.ListBatches(request, timeout=30).batches]

    assert listed("assigned") == [batch] and listed("installed") == [batch]
    assert listed("in_transit") == [] and listed("pending") == [other] and listed("ordered") == [other]


# ------------------------------------------------------------------ reflection of error details
def test_reflection_serves_the_error_detail_types_with_each_service_file(server: RunningServer) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel())
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="registry.api.v1.CommandService")

    (response,) = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    files = {f.name: f for f in (descriptor_pb2.FileDescriptorProto.FromString(b)
                                 for b in response.file_descriptor_response.file_descriptor_proto)}

    assert "google/rpc/error_details.proto" in files["registry/api/v1/commands.proto"].dependency
    details = {m.name for m in files["google/rpc/error_details.proto"].message_type}
    assert {"ErrorInfo", "BadRequest", "PreconditionFailure", "ResourceInfo"} <= details


# ------------------------------------------------------------------ internal events
def _types_until_caught_up(api: Stubs, request: e.SubscribeEventsRequest) -> list[str]:
    types: list[str] = []
    for message in api.events.SubscribeEvents(request, timeout=30):
        if message.HasField("checkpoint"):
            return types
        types.extend(event.type for event in message.events.events)
    return types


def test_subscriptions_leave_out_request_records_unless_asked(api: Stubs) -> None:
    build_world(api)

    default = _types_until_caught_up(api, e.SubscribeEventsRequest())
    asked = _types_until_caught_up(api, e.SubscribeEventsRequest(include_request_records=True))

    assert default and "RequestRecord.Handled" not in default
    assert asked.count("RequestRecord.Handled") >= len(default) // 2
    assert [t for t in asked if t != "RequestRecord.Handled"] == default


# ------------------------------------------------------------------ custody names
def test_custody_entries_name_their_times_occurred_at_and_recorded_at(api: Stubs) -> None:
    w = build_world(api)
    when = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
    batch = place_order(api, w, quantity=2, occurred_at=ts(when))
    head = int(api.queries.GetProjectionStatus(q.GetProjectionStatusRequest(), timeout=10).head)

    trail = api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(batch_id=batch, min_position=head), timeout=30)

    (entry,) = trail.entries
    assert entry.occurred_at.ToDatetime(tzinfo=UTC) == when
    assert entry.recorded_at.ToDatetime(tzinfo=UTC) > when
    assert set(q.CustodyEntry.DESCRIPTOR.fields_by_name) >= {"occurred_at", "recorded_at"}


def test_list_expiring_authorizations_with_a_horizon_past_year_9999_is_invalid_argument_naming_as_of(
    api: Stubs,
) -> None:
    # found by `make fuzz`: as_of near the end of year 9999 plus within_days overflowed (INTERNAL)
    request = compliance_pb2.ListExpiringAuthorizationsRequest(
        within_days=30, as_of=ts(datetime(9999, 12, 20, tzinfo=UTC)))

    error = refused(lambda: api.compliance.ListExpiringAuthorizations(request, timeout=10))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "as_of" in field_violations(error)
    _no_leak(error.details() or "")
