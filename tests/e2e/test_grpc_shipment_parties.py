"""A shipment's intermediate consignee and freight forwarder, and the BIS diversion red flags (13
May 2025), through the gRPC API on a real server (its projections running in it), on SQLite and
PostgreSQL: the parties are recorded on the shipment, screened at Ship (a hit refuses it, naming
the field and the list entry, nothing written), held to the license's named consignees (an
intermediate consignee the license does not name refuses it) and raise red-flag findings from the
parties' recorded facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from google.protobuf import struct_pb2

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer
from tests.e2e.findings_world import T0, FindingsWorld, build_findings_world, ts
from tests.e2e.test_grpc_errors import details, field_violations, refused
from tests.e2e.world import new_request_id

ENTITY_LIST = b"entry_id,name,source_list\nEL-42,Night Freight Ltd,Entity List (EL) - Bureau of Industry and Security\n"


def _party(w: FindingsWorld, key: str, name: str, roles: list[str], **facts: str) -> str:
    w.ids[key] = str(w.do("RegisterParty", c.RegisterPartyRequest(
        request_id=new_request_id(), name=name, country="KR", roles=roles, headquarters_country="KR",
        occurred_at=ts(T0 - timedelta(days=30)), **facts)).aggregate_id)
    return w.ids[key]


def _ship(w: FindingsWorld, batch: str, shipment: str, **parties: object) -> c.ShipResponse:
    response: c.ShipResponse = w.do("Ship", c.ShipRequest(
        request_id=new_request_id(), batch_id=batch, shipment_id=shipment, destination_country="KR",
        destination_site_id=w.ids["site"], quantity=8, occurred_at=ts(T0 + timedelta(days=4)), **parties))
    return response


@pytest.fixture
def world(start_server: Callable[..., RunningServer], store_url: str) -> tuple[RunningServer, FindingsWorld]:
    server = start_server(store_url)
    w = build_findings_world(server.stubs())
    _party(w, "hub", "Incheon Transit Depot", ["consignee"], address_type="vague")
    _party(w, "fwd", "Night Freight", ["forwarder"], forwarder_standing="unusual", online_presence="little")
    # The license names the depot as an intermediate consignee: the items may pass through it.
    w.do("AmendReference", c.AmendReferenceRequest(
        request_id=new_request_id(), kind=c.REFERENCE_KIND_AUTHORIZATION, target_id=w.ids["license"],
        fields=struct_pb2.Struct(fields={"intermediate_consignee_ids": struct_pb2.Value(
            list_value=struct_pb2.ListValue(values=[struct_pb2.Value(string_value=w.ids["hub"])]))}),
        reason="license amended to name the transit depot", occurred_at=ts(T0 - timedelta(days=20))))
    return server, w


def test_a_shipment_through_an_intermediate_consignee_and_forwarder_records_them_and_raises_red_flags(
    world: tuple[RunningServer, FindingsWorld],
) -> None:
    _, w = world
    batch, _ = w.batch(quantity=8, serialized=False)
    _ship(w, batch, "S1", intermediate_consignee_ids=[w.ids["hub"]], forwarder_id=w.ids["fwd"])

    (shipment,) = w.api.queries.GetBatch(q.GetBatchRequest(batch_id=batch)).batch.shipments
    assert (list(shipment.intermediate_consignee_ids), shipment.forwarder_id) == ([w.ids["hub"]], w.ids["fwd"])
    (export,) = w.compliance(batch).exports  # the compliance read model's record of the export
    assert (list(export.intermediate_consignee_ids), export.forwarder_id, export.carrier_id) == (
        [w.ids["hub"]], w.ids["fwd"], "")
    flags = {(f.rule_id, f.party_id) for f in w.findings() if f.rule_id.startswith("red-flag-")}
    assert flags == {("red-flag-address", w.ids["hub"]), ("red-flag-online-presence", w.ids["fwd"]),
                     ("red-flag-unusual-forwarder", w.ids["fwd"])}
    assert "export-without-clearance" not in {f.rule_id for f in w.findings()}  # the license names the depot
    address = w.only("red-flag-address")
    assert address.shipment_id == "S1" and address.severity == cp.FINDING_SEVERITY_MEDIUM
    assert "Incheon Transit Depot" in address.reasons[0] and "vague" in address.reasons[0]


def test_a_forwarder_on_the_entity_list_refuses_the_shipment_naming_the_field_and_entry(
    world: tuple[RunningServer, FindingsWorld],
) -> None:
    server, w = world
    batch, _ = w.batch(quantity=8, serialized=False)
    w.do("ImportScreeningList", cp.ImportScreeningListRequest(request_id=new_request_id(), source="US CSL",
                                                              content=ENTITY_LIST))
    head = server.head()
    error = refused(lambda: _ship(w, batch, "S1", forwarder_id=w.ids["fwd"]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    found = details(error)
    assert found["ErrorInfo"].metadata["rule"] == "screening-hit"
    (violation,) = found["PreconditionFailure"].violations
    assert "forwarder_id Night Freight matches 'Night Freight Ltd' (entry EL-42" in violation.description
    assert server.head() == head


def test_an_intermediate_consignee_the_license_does_not_name_refuses_the_shipment_naming_the_field(
    world: tuple[RunningServer, FindingsWorld],
) -> None:
    server, w = world
    _party(w, "depot", "Busan Free Zone Depot", ["consignee"])
    batch, _ = w.batch(quantity=8, serialized=False)
    head = server.head()
    error = refused(lambda: _ship(w, batch, "S1", intermediate_consignee_ids=[w.ids["hub"], w.ids["depot"]]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    found = details(error)
    assert found["ErrorInfo"].metadata["rule"] == "authorization-consignee"
    assert found["ErrorInfo"].metadata["fact.role"] == "intermediate_consignee_ids[1]"
    assert found["ErrorInfo"].metadata["fact.party_id"] == w.ids["depot"]
    assert server.head() == head


def test_an_intermediate_consignee_that_is_not_a_party_id_is_invalid_and_nothing_is_written(
    world: tuple[RunningServer, FindingsWorld],
) -> None:
    server, w = world
    batch, _ = w.batch(quantity=8, serialized=False)
    head = server.head()
    error = refused(lambda: _ship(w, batch, "S1", intermediate_consignee_ids=["not-a-party"]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert any(f.startswith("intermediate_consignee_ids") for f in field_violations(error))
    error = refused(lambda: w.do("RegisterParty", c.RegisterPartyRequest(
        request_id=new_request_id(), name="X", country="KR", roles=["purchaser"], headquarters_country="KR",
        address_type="warehouse")))
    assert "address_type" in field_violations(error)
    assert server.head() == head


def test_a_license_registered_over_grpc_names_its_intermediate_consignees_apart_and_ship_is_held_to_them(
    world: tuple[RunningServer, FindingsWorld],
) -> None:
    """RegisterAuthorizationRequest.intermediate_consignee_ids (field 17): the buyer is the license's
    ultimate consignee, the depot its intermediate consignee; passing through the buyer (named only
    as ultimate consignee) is refused naming the field, passing through the depot goes."""
    server, w = world
    _party(w, "depot", "Busan Free Zone Depot", ["consignee"])
    w.ids["lic2"] = str(w.do("RegisterAuthorization", c.RegisterAuthorizationRequest(
        request_id=new_request_id(), auth_type=c.AUTHORIZATION_TYPE_LICENSE, number="D7654321", eccns=["3A090"],
        destination_countries=["KR"], consignee_ids=[w.ids["buyer"]], intermediate_consignee_ids=[w.ids["depot"]],
        end_user_ids=[w.ids["buyer"]], valid_from=ts(T0 - timedelta(days=60)),
        occurred_at=ts(T0 - timedelta(days=30)))).aggregate_id)
    batch, _ = w.batch(quantity=8, serialized=False, authorization="lic2")
    head = server.head()
    error = refused(lambda: _ship(w, batch, "S1", intermediate_consignee_ids=[w.ids["depot"], w.ids["buyer"]]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = details(error)["ErrorInfo"].metadata
    assert (info["rule"], info["fact.role"], info["fact.party_id"]) == (
        "authorization-consignee", "intermediate_consignee_ids[1]", w.ids["buyer"])
    assert server.head() == head
    _ship(w, batch, "S1", intermediate_consignee_ids=[w.ids["depot"]])
    (shipment,) = w.api.queries.GetBatch(q.GetBatchRequest(batch_id=batch)).batch.shipments
    assert list(shipment.intermediate_consignee_ids) == [w.ids["depot"]]


def test_a_shipment_names_its_exporter_over_grpc_the_batchs_supplier_by_default_and_it_is_screened(
    world: tuple[RunningServer, FindingsWorld],
) -> None:
    """ShipRequest.exporter_id (field 52): recorded on Batch.shipments (field 52) and on the
    compliance export record (ExportRecord.exporter_id, field 64); empty means the supplier."""
    server, w = world
    exporter = _party(w, "nvkr", "Blackwell Export Services", ["exporter"])
    first, _ = w.batch(quantity=8, serialized=False)
    second, _ = w.batch(quantity=8, serialized=False)
    _ship(w, first, "S1")
    _ship(w, second, "S2", exporter_id=exporter)
    (s1,) = w.api.queries.GetBatch(q.GetBatchRequest(batch_id=first)).batch.shipments
    (s2,) = w.api.queries.GetBatch(q.GetBatchRequest(batch_id=second)).batch.shipments
    assert (s1.exporter_id, s2.exporter_id) == (w.ids["nvidia"], exporter)
    (record,) = w.compliance(second).exports
    assert record.exporter_id == exporter
    third, _ = w.batch(quantity=8, serialized=False)
    w.do("ImportScreeningList", cp.ImportScreeningListRequest(request_id=new_request_id(), source="US CSL",
        content=b"entry_id,name,source_list\nEL-43,Blackwell Export Services,Entity List (EL)\n"))
    head = server.head()
    error = refused(lambda: _ship(w, third, "S3", exporter_id=exporter))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = details(error)["ErrorInfo"].metadata
    assert (info["rule"], info["fact.role"]) == ("screening-hit", "exporter_id")
    assert server.head() == head


def test_the_export_record_over_grpc_carries_the_itn_end_use_value_and_the_license_with_its_running_drawdown(
    world: tuple[RunningServer, FindingsWorld],
) -> None:
    """ExportRecord fields 65-76: the auditor's per-shipment record (ITN, end-use statement, value,
    the authorization's number, type, expiry and its drawdown when the units left)."""
    _, w = world
    batch, _ = w.batch(quantity=8, serialized=False)
    _ship(w, batch, "S1", itn="X20260306000009")
    (record,) = w.compliance(batch).exports
    assert (record.itn, record.end_use, record.value, record.currency) == (
        "X20260306000009", "AI training", "240000", "USD")  # 8 x 30,000
    assert (record.authorization_id, record.authorization_number, record.authorization_type,
            record.exception_code) == (w.ids["license"], "D7654321", "license", "")
    assert record.authorization_valid_to.ToDatetime().year == 2027
    assert (record.authorization_drawn_quantity, record.authorization_remaining_quantity) == (8, 992)
    assert record.authorization_remaining_value == ""  # no value limit
    # the classification evidence of the clearance (B200: 4,500 dense FP8 TFLOPS x 8 = TPP 36,000)
    assert (record.tpp, record.datacenter_marketed, record.classification_ruleset_id) == (
        "36000", True, "3A090-2023-11")
    assert record.HasField("datacenter_marketed") and record.performance_density
