"""EpcisService over a real gRPC socket: a batch exported from one server, captured by another."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from registry.api.v1 import epcis_pb2 as pb
from registry.api.v1 import epcis_pb2_grpc
from tests.builders import make_world
from tests.e2e.conftest import RunningServer
from tests.epcis_support.gs1 import schema_errors
from tests.integration.test_epcis import batch_state, copy_reference_data, full_history
from tests.integration.test_epcis_conformance import _shipment_document


def _export(stub: epcis_pb2_grpc.EpcisServiceStub, request: pb.ExportEpcisRequest) -> tuple[dict, int]:
    parts = list(stub.ExportEpcis(request, timeout=60))
    assert parts[0].WhichOneof("part") == "header" and parts[0].header.media_type == "application/ld+json"
    assert parts[-1].WhichOneof("part") == "trailer"
    body = b"".join(p.chunk for p in parts[1:-1])
    return json.loads(body), parts[-1].trailer.event_count


def test_a_batch_exported_over_grpc_and_captured_by_another_server_is_the_same_batch(
    start_server: Callable[..., RunningServer], tmp_path
) -> None:
    source = start_server(f"sqlite:///{tmp_path}/a.db")
    target = start_server(f"sqlite:///{tmp_path}/b.db")
    a, _ = full_history(make_world(source.registry))
    copy_reference_data(source.registry, target.registry)

    document, count = _export(epcis_pb2_grpc.EpcisServiceStub(source.channel()), pb.ExportEpcisRequest(batch_id=str(a)))
    assert count == len(document["epcisBody"]["eventList"]) > 10
    assert schema_errors(document) == []

    stub = epcis_pb2_grpc.EpcisServiceStub(target.channel())
    raw = json.dumps(document).encode()
    answer = stub.CaptureEpcis(pb.CaptureEpcisRequest(document=raw), metadata=[("x-gpureg-actor", "dc-ops@samsung")],
                               timeout=60)
    assert answer.accepted
    assert {o.status for o in answer.outcomes} == {pb.EPCIS_EVENT_STATUS_WRITTEN}
    assert batch_state(target.registry.get_batch(a)) == batch_state(source.registry.get_batch(a))
    assert target.registry.history(a, limit=1)[0].actor == "dc-ops@samsung"

    again = stub.CaptureEpcis(pb.CaptureEpcisRequest(document=raw), timeout=60)
    assert {o.status for o in again.outcomes} == {pb.EPCIS_EVENT_STATUS_REPLAYED}


def test_a_refused_capture_is_invalid_argument_naming_each_events_field_and_rule(
    start_server: Callable[..., RunningServer], tmp_path
) -> None:
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    stub = epcis_pb2_grpc.EpcisServiceStub(server.channel())
    event = {"type": "AssociationEvent", "action": "ADD", "eventTime": "2026-03-02T09:00:00Z",
             "eventTimeZoneOffset": "+00:00", "eventID": "urn:uuid:3d4b7a5e-0000-4000-8000-000000000001",
             "parentID": "urn:epc:id:grai:4012345.55555.987", "childEPCs": ["urn:epc:id:giai:4000001.12345"]}
    document = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-02T09:00:00Z",
                "epcisBody": {"eventList": [event]}}
    head = server.head()

    with pytest.raises(grpc.RpcError) as refused:
        stub.CaptureEpcis(pb.CaptureEpcisRequest(document=json.dumps(document).encode()), timeout=60)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status: status_pb2.Status = rpc_status.from_call(refused.value)
    bad = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad) for detail in status.details)
    [violation] = bad.field_violations
    assert violation.field == "eventList[0].type"
    assert "urn:uuid:3d4b7a5e" in violation.description and "supported-event" in violation.description
    assert server.head() == head
    headless = {k: val for k, val in document.items() if k not in ("schemaVersion", "creationDate")}
    with pytest.raises(grpc.RpcError) as no_header:  # EPCIS 2.0 section 9.1: the document's own fields
        stub.CaptureEpcis(pb.CaptureEpcisRequest(document=json.dumps(headless).encode()), timeout=60)
    assert no_header.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    header = error_details_pb2.BadRequest()
    assert any(d.Unpack(header) for d in rpc_status.from_call(no_header.value).details)
    assert [v.field for v in header.field_violations] == ["schemaVersion", "creationDate"]
    assert server.head() == head
    with pytest.raises(grpc.RpcError) as garbage:
        stub.CaptureEpcis(pb.CaptureEpcisRequest(document=b"not json"), timeout=60)
    assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as no_scope:
        list(stub.ExportEpcis(pb.ExportEpcisRequest(), timeout=60))
    assert no_scope.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_event_captured_over_grpc_is_exported_over_grpc_as_captured_with_the_repositorys_record_time(
    start_server: Callable[..., RunningServer], store_url: str
) -> None:
    """EPCIS 2.0 section 8.2 through ExportEpcis: a captured shipment's persistentDisposition,
    sensor report and another namespace's extension come back; the batch's order, which the
    registry originated, keeps the registry's rendition."""
    server = start_server(store_url)
    world = make_world(server.registry)
    document, _ = _shipment_document(
        world, persistentDisposition={"set": ["completeness_verified"]}, recordTime="2001-01-01T00:00:00Z",
        sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 21.5, "uom": "CEL"}]}],
        **{"ex:sealNumber": "S-1"})
    document["@context"] = [*document["@context"], {"ex": "https://example.com/ext/"}]
    [sent] = document["epcisBody"]["eventList"]
    stub = epcis_pb2_grpc.EpcisServiceStub(server.channel())
    answer = stub.CaptureEpcis(pb.CaptureEpcisRequest(document=json.dumps(document).encode()),
                               metadata=[("x-gpureg-actor", "wms@nvidia")], timeout=60)
    assert answer.accepted

    exported, _ = _export(stub, pb.ExportEpcisRequest(batch_id=answer.outcomes[0].batch_id))

    assert schema_errors(exported) == []
    [ordered, *_, got] = exported["epcisBody"]["eventList"]
    assert {k: x for k, x in got.items() if k not in ("recordTime", "@context")} == {
        k: x for k, x in sent.items() if k != "recordTime"}
    assert got["@context"] == {"ex": "https://example.com/ext/"} and got["recordTime"] > sent["recordTime"]
    assert "gpureg:registryEvent" in ordered and ordered["eventID"].startswith("ni:///sha-256;")
