"""ReportService.GenerateReport on a real server: the streamed bytes are the CLI's bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from typer.testing import CliRunner

from registry.api.v1 import reports_pb2 as pb
from registry.api.v1 import reports_pb2_grpc
from registry.cli import app
from registry.server.reports import CHUNK_BYTES
from tests.e2e.conftest import RunningServer
from tests.e2e.test_grpc_errors import field_violations, refused
from tests.e2e.world import ts
from tests.integration.report_world import ReportWorld, phase_one, phase_two

runner = CliRunner()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[ReportWorld]:
    w = phase_one(sqlite_url)  # written by another registry on the same store, as by another process
    yield w
    w.close()


@pytest.fixture
def reports(start_server: Callable[..., RunningServer], world: ReportWorld) -> reports_pb2_grpc.ReportServiceStub:
    server = start_server(world.url)
    return reports_pb2_grpc.ReportServiceStub(server.channel())


def stream(stub: reports_pb2_grpc.ReportServiceStub, **fields: object) -> tuple[pb.ReportHeader, list[bytes]]:
    messages = list(stub.GenerateReport(pb.GenerateReportRequest(**fields), timeout=120))
    assert messages and messages[0].WhichOneof("part") == "header"
    assert all(m.WhichOneof("part") == "chunk" for m in messages[1:])
    return messages[0].header, [m.chunk for m in messages[1:]]


def cli_bytes(world: ReportWorld, tmp_path: Path, kind: str, fmt: str, *extra: str) -> bytes:
    out = tmp_path / f"cli.{fmt}"
    result = runner.invoke(
        app, ["report", kind, "--database-url", world.url, "--format", fmt, "--out", str(out), *extra]
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes()


@pytest.mark.parametrize(
    ("kind", "fmt", "cli_format"),
    [
        (pb.REPORT_KIND_COMPLIANCE, pb.REPORT_FORMAT_HTML, "html"),
        (pb.REPORT_KIND_OWNERSHIP, pb.REPORT_FORMAT_CSV, "csv"),
        (pb.REPORT_KIND_CUSTODY, pb.REPORT_FORMAT_JSON, "json"),
    ],
)
def test_the_streamed_report_is_the_bytes_the_cli_writes_for_the_same_request(
    reports: reports_pb2_grpc.ReportServiceStub, world: ReportWorld, tmp_path: Path, kind: int, fmt: int,
    cli_format: str,
) -> None:
    phase_two(world)
    header, chunks = stream(reports, kind=kind, format=fmt, as_of=ts(world.recorded_by), partner="Samsung Electronics")
    data = b"".join(chunks)
    expected = cli_bytes(
        world, tmp_path, pb.ReportKind.Name(kind).removeprefix("REPORT_KIND_").lower(), cli_format,
        "--as-of", world.recorded_by.isoformat(), "--partner", "Samsung Electronics",
    )
    assert data == expected
    assert header.size == len(data)
    assert all(0 < len(c) <= CHUNK_BYTES for c in chunks)
    assert header.as_of.ToDatetime().isoformat() == world.recorded_by.replace(tzinfo=None).isoformat()
    assert header.log_position > 0
    assert len(header.digest) == 64 and header.digest.encode() in data
    assert header.filename.endswith("." + cli_format)
    assert header.media_type.startswith({"html": "text/html", "csv": "text/csv", "json": "application/json"}[cli_format])


def test_a_report_streams_in_full_chunks_and_the_default_as_of_is_the_latest_event(
    reports: reports_pb2_grpc.ReportServiceStub, world: ReportWorld, tmp_path: Path
) -> None:
    header, chunks = stream(reports, kind=pb.REPORT_KIND_COMPLIANCE, format=pb.REPORT_FORMAT_PDF)
    assert len(chunks) == -(-header.size // CHUNK_BYTES)
    assert all(len(c) == CHUNK_BYTES for c in chunks[:-1])
    assert b"".join(chunks) == cli_bytes(world, tmp_path, "compliance", "pdf")
    assert header.as_of.ToDatetime().isoformat() == world.recorded_by.replace(tzinfo=None).isoformat()
    assert not header.HasField("as_occurred_by")


def test_bad_report_requests_are_refused_naming_the_field(
    reports: reports_pb2_grpc.ReportServiceStub, world: ReportWorld
) -> None:
    error = refused(lambda: stream(reports, format=pb.REPORT_FORMAT_HTML))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "kind" in field_violations(error)
    error = refused(lambda: stream(reports, kind=pb.REPORT_KIND_CUSTODY, partner="Nobody Ltd."))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "partner" in field_violations(error)
    error = refused(lambda: stream(reports, kind=pb.REPORT_KIND_OWNERSHIP, authorization="NLR-KR-3A090"))
    assert "authorization" in field_violations(error)


def test_a_custody_report_filtered_to_a_batch_serial_and_period_streams_the_cli_bytes(
    reports: reports_pb2_grpc.ReportServiceStub, world: ReportWorld, tmp_path: Path
) -> None:
    serial = world.serials_a[3]
    start = world.recorded_by.replace(year=2026, month=3, day=1, hour=0, minute=0, second=0, microsecond=0)
    _, chunks = stream(reports, kind=pb.REPORT_KIND_CUSTODY, format=pb.REPORT_FORMAT_HTML, as_of=ts(world.recorded_by),
                       batch="PO-A", serial=serial, occurred_from=ts(start))
    expected = cli_bytes(world, tmp_path, "custody", "html", "--as-of", world.recorded_by.isoformat(),
                         "--batch", "PO-A", "--serial", serial, "--occurred-from", "2026-03-01")
    assert b"".join(chunks) == expected
    error = refused(lambda: stream(reports, kind=pb.REPORT_KIND_COMPLIANCE, format=pb.REPORT_FORMAT_HTML,
                                   batch="PO-A"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "batch" in field_violations(error)
