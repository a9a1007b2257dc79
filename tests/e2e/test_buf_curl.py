"""A client this project did not write: ``buf curl`` (from the npm package the Makefile installs)
discovers the API through server reflection and calls it over gRPC."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.world import build_world

BUF = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "buf"


@pytest.fixture(scope="module")
def buf() -> Path:
    if not BUF.exists():
        pytest.fail(f"{BUF} is missing: run `make tools` (npm ci), which `make test` does for you")
    return BUF


def buf_curl(
    buf: Path, server: RunningServer, method: str, data: dict[str, Any] | None = None, *headers: str
) -> subprocess.CompletedProcess[str]:
    args = [str(buf), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--timeout", "30s"]
    for header in headers:
        args += ["-H", header]
    if data is not None:
        args += ["-d", json.dumps(data)]
    args.append(f"http://{server.address}/{method}")
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_buf_curl_lists_the_services_through_reflection(buf: Path, server: RunningServer) -> None:
    result = subprocess.run(
        [
            str(buf),
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "--list-services",
            f"http://{server.address}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {
        "registry.api.v1.CommandService",
        "registry.api.v1.QueryService",
        "registry.api.v1.EventService",
        "registry.api.v1.ComplianceService",
        "registry.api.v1.ReportService",
        "grpc.health.v1.Health",
    } <= set(result.stdout.split())


def test_buf_curl_checks_health_places_an_order_and_reads_the_batch_back(
    buf: Path, server: RunningServer, api: Stubs
) -> None:
    w = build_world(api)

    health = ok(buf_curl(buf, server, "grpc.health.v1.Health/Check", {}))
    placed = ok(
        buf_curl(
            buf,
            server,
            "registry.api.v1.CommandService/PlaceOrder",
            {
                "request_id": "buf-1",
                "po_number": "PO-BUF",
                "supplier_id": w.supplier,
                "buyer_id": w.buyer,
                "model_id": w.model,
                "quantity": 4,
                "unit_price": "31250.00",
                "currency": "USD",
            },
            "x-gpureg-actor: buf-user",
        )
    )
    got = ok(
        buf_curl(buf, server, "registry.api.v1.QueryService/GetBatch", {"batchId": placed["aggregateId"]})
    )

    assert health == {"status": "SERVING"}
    assert placed["version"] == "1" and int(placed["position"]) == server.head()
    batch = got["batch"]
    assert (batch["poNumber"], batch["quantity"], batch["stage"]) == ("PO-BUF", "4", "ordered")
    (event,) = api.queries.ListBatchEvents(q.ListBatchEventsRequest(batch_id=placed["aggregateId"])).events
    assert event.actor == "buf-user" and event.request_id == "buf-1"


def test_buf_curl_sees_an_invalid_argument_for_a_malformed_id(buf: Path, server: RunningServer) -> None:
    result = buf_curl(buf, server, "registry.api.v1.QueryService/GetBatch", {"batchId": "not-a-uuid"})

    assert result.returncode != 0
    error = json.loads(result.stderr)
    assert error["code"] == "invalid_argument" and "batch_id" in error["message"]


def test_buf_curl_imports_a_screening_list_and_classifies_a_model(
    buf: Path, server: RunningServer, api: Stubs
) -> None:
    w = build_world(api)
    content = b"name,addresses\nSeoul Cloud Co. Ltd.,\"1 Teheran-ro, Seoul, KR\"\n"

    imported = ok(
        buf_curl(
            buf,
            server,
            "registry.api.v1.ComplianceService/ImportScreeningList",
            {"request_id": "buf-import-1", "source": "US CSL", "content": base64.b64encode(content).decode()},
            "x-gpureg-actor: buf-user",
        )
    )
    lists = ok(buf_curl(buf, server, "registry.api.v1.ComplianceService/ListScreeningLists", {}))
    classified = ok(
        buf_curl(buf, server, "registry.api.v1.ComplianceService/ClassifyModel", {"model_id": w.model})
    )

    (snapshot,) = lists["snapshots"]
    assert snapshot["snapshotId"] == imported["aggregateId"]
    assert snapshot["sha256"] == hashlib.sha256(content).hexdigest() and snapshot["importedBy"] == "buf-user"
    classification = classified["classification"]
    assert (classification["eccn"], classification["status"]) == ("3A090.a", "CONTROL_STATUS_CONTROLLED")



def _detail_bytes(value: str) -> bytes:
    """An error detail's ``value`` as buf curl prints it: base64 without padding."""
    return base64.b64decode(value + "=" * (-len(value) % 4))


def test_buf_curl_prints_error_details_as_base64_though_reflection_serves_their_types(
    buf: Path, server: RunningServer
) -> None:
    """buf curl prints an error's details with connect-go's error writer, which decodes an Any only
    with the types compiled into the buf binary (google.rpc's are not), never with reflection or
    --schema. Reflection does serve google.rpc.BadRequest and ErrorInfo (registry/server/reflection.py):
    a client resolving Any through it decodes them; with buf, `buf convert` does (the README's
    "Status codes")."""
    from google.protobuf import descriptor_pool
    from google.protobuf.message_factory import GetMessageClass
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    result = buf_curl(buf, server, "registry.api.v1.QueryService/GetBatch", {"batchId": "not-a-uuid"})

    error = json.loads(result.stderr)
    by_type = {d["type"]: d for d in error["details"]}
    assert {"google.rpc.BadRequest", "google.rpc.ErrorInfo"} <= set(by_type), error
    assert not any("debug" in d for d in error["details"]), error  # buf curl did not decode them
    raw = _detail_bytes(by_type["google.rpc.BadRequest"]["value"])

    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(server.channel()))
    bad_request = GetMessageClass(pool.FindMessageTypeByName("google.rpc.BadRequest")).FromString(raw)
    assert [v.field for v in bad_request.field_violations] == ["batch_id"]  # type: ignore[attr-defined]

    import google.rpc

    converted = subprocess.run(
        [str(buf), "convert", str(Path(google.rpc.__path__[0]) / "error_details.proto"), "--type",
         "google.rpc.BadRequest", "--from", "-#format=binpb", "--to", "-#format=json"],
        input=raw, capture_output=True, timeout=60, check=False)
    assert converted.returncode == 0, converted.stderr
    (violation,) = json.loads(converted.stdout)["fieldViolations"]
    assert violation["field"] == "batch_id" and "UUID" in violation["description"]
