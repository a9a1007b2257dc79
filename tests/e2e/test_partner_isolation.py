"""Partner isolation on every read path, through a real server on SQLite and PostgreSQL.

Two competing partners (Samsung with a subsidiary, and SK) each buy batches. A partner sees its
own batches and its subsidiary's, and nothing of the other's: another partner's batch is
NOT_FOUND exactly like a batch that does not exist, lists and aggregates keep only its rows,
and its subscription never carries another partner's events, not even their ids."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import events_pb2 as ev
from registry.api.v1 import queries_pb2 as q
from registry.api.v1 import reports_pb2 as rp
from registry.api.v1 import reports_pb2_grpc
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.security_world import Credentials

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TIMEOUT = 60


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


@dataclass
class Deal:
    api: Stubs
    admin: list[tuple[str, str]]
    ids: dict[str, str] = field(default_factory=dict)
    position: int = 0
    serial: int = 0

    def do(self, rpc: str, request: Any) -> Any:
        response = getattr(self.api.commands, rpc)(request, metadata=self.admin, timeout=TIMEOUT)
        self.position = max(self.position, int(response.position))
        return response

    def party(self, key: str, name: str, parent: str | None = None) -> None:
        request = c.RegisterPartyRequest(request_id=str(uuid.uuid4()), name=name, country="KR", roles=["purchaser", "consignee", "end_user"],
                                         headquarters_country="KR")
        if parent:
            request.ultimate_parent_id = self.ids[parent]
        self.ids[key] = self.do("RegisterParty", request).aggregate_id

    def batch(self, key: str, buyer: str, site: str) -> None:
        batch = self.do("PlaceOrder", c.PlaceOrderRequest(request_id=str(uuid.uuid4()),
            po_number=f"PO-{key}", supplier_id=self.ids["nvidia"], buyer_id=self.ids[buyer],
            model_id=self.ids["b200"], quantity=4, unit_price="30000", currency="USD", occurred_at=ts(T0),
        )).aggregate_id
        self.ids[key] = batch
        self.do("RequestClearance", c.RequestClearanceRequest(request_id=str(uuid.uuid4()),
            batch_id=batch, authorization_id=self.ids["license"], eccn="3A090.a", destination_country="KR",
            consignee_id=self.ids[buyer], end_user_id=self.ids[buyer], quantity=4, end_use="AI training",
            occurred_at=ts(T0 + timedelta(days=1))))
        self.do("GrantClearance", c.GrantClearanceRequest(request_id=str(uuid.uuid4()),
            batch_id=batch, authorization_id=self.ids["license"], occurred_at=ts(T0 + timedelta(days=2))))
        serials = [f"SN{key}{i}" for i in range(4)]
        self.do("RegisterSerials", c.RegisterSerialsRequest(request_id=str(uuid.uuid4()),
            batch_id=batch, units=[c.UnitIdentity(serial=s) for s in serials], occurred_at=ts(T0 + timedelta(days=3))))
        self.do("Ship", c.ShipRequest(request_id=str(uuid.uuid4()), batch_id=batch, shipment_id=f"S-{key}", destination_country="KR",
                                      destination_site_id=self.ids[site], serials=serials,
                                      occurred_at=ts(T0 + timedelta(days=4))))
        # one unit never arrives: a finding of this batch, and an overdue delivery
        self.do("Receive", c.ReceiveRequest(request_id=str(uuid.uuid4()), batch_id=batch, shipment_id=f"S-{key}", receiving_party_id=self.ids[buyer],
                                            site_id=self.ids[site], serials=serials[:3],
                                            occurred_at=ts(T0 + timedelta(days=8))))
        self.do("Install", c.InstallRequest(request_id=str(uuid.uuid4()), batch_id=batch, site_id=self.ids[site], rack="R1", host="H1",
                                            serials=serials[:2], occurred_at=ts(T0 + timedelta(days=10))))


def build_deal(api: Stubs, admin: list[tuple[str, str]]) -> Deal:
    d = Deal(api, admin)
    d.ids["nvidia"] = d.do("RegisterParty", c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
        name="NVIDIA Corporation", country="US", roles=["supplier", "exporter"], headquarters_country="US")).aggregate_id
    d.party("samsung", "Samsung Electronics")
    d.party("samsung_sds", "Samsung SDS", parent="samsung")
    d.party("sk", "SK Telecom")
    d.ids["b200"] = d.do("RegisterGpuModel", c.RegisterGpuModelRequest(request_id=str(uuid.uuid4()),
        vendor="NVIDIA", name="B200", part_number="699-2G520", dense_tops={"fp8": "4500", "fp16": "2250"},
        bit_lengths={"fp8": 8, "fp16": 16}, die_area_mm2="1600", datacenter_marketed=True, tdp_watts=1000,
    )).aggregate_id
    for key, operator in (("site_samsung", "samsung"), ("site_sk", "sk")):
        d.ids[key] = d.do("RegisterSite", c.RegisterSiteRequest(request_id=str(uuid.uuid4()),
            name=key, operator_id=d.ids[operator], country="KR", power_capacity_kw="40000")).aggregate_id
    partners = [d.ids["samsung"], d.ids["samsung_sds"], d.ids["sk"]]
    d.ids["license"] = d.do("RegisterAuthorization", c.RegisterAuthorizationRequest(request_id=str(uuid.uuid4()),
        auth_type=c.AUTHORIZATION_TYPE_LICENSE, number="D1234567", eccns=["3A090"], destination_countries=["KR"],
        consignee_ids=partners, end_user_ids=partners, valid_from=ts(datetime(2026, 1, 1, tzinfo=UTC)),
    )).aggregate_id
    d.batch("a1", "samsung", "site_samsung")
    d.batch("a2", "samsung_sds", "site_samsung")
    d.batch("b1", "sk", "site_sk")
    return d


@pytest.fixture
def world(start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path) -> tuple[RunningServer, Deal, Credentials]:
    creds = Credentials.create(tmp_path)
    server = start_server(store_url, **creds.settings())
    return server, build_deal(server.stubs(), creds.md("admin", subject="registry-admin")), creds


def not_found(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND, refused.value.details()
    return refused.value


def same_refusal(theirs: grpc.RpcError, their_id: str, missing: grpc.RpcError, missing_id: str) -> None:
    """The two refusals are identical but for the id asked about."""
    def shape(e: grpc.RpcError, ident: str) -> tuple[Any, ...]:
        trailer = dict(e.trailing_metadata() or ())
        return (e.code(), (e.details() or "").replace(ident, "<id>"),
                trailer.get("grpc-status-details-bin", b"").replace(ident.encode(), b"<id>"))
    assert shape(theirs, their_id) == shape(missing, missing_id)


def test_a_partner_sees_its_own_and_its_subsidiarys_batches_and_another_partners_batch_is_not_found(world) -> None:  # type: ignore[no-untyped-def]
    server, d, creds = world
    api = server.stubs()
    samsung = creds.md("partner", d.ids["samsung"], subject="samsung-ops")
    for own in ("a1", "a2"):
        assert api.queries.GetBatch(q.GetBatchRequest(batch_id=d.ids[own]), metadata=samsung).batch.batch_id == d.ids[own]
    missing = str(uuid.uuid4())
    sk_batch = d.ids["b1"]
    calls: dict[str, Callable[[str], object]] = {
        "GetBatch": lambda b: api.queries.GetBatch(q.GetBatchRequest(batch_id=b), metadata=samsung),
        "ListBatchEvents": lambda b: api.queries.ListBatchEvents(q.ListBatchEventsRequest(batch_id=b), metadata=samsung),
        "GetCustodyTrail": lambda b: api.queries.GetCustodyTrail(
            q.GetCustodyTrailRequest(batch_id=b, min_position=d.position), metadata=samsung, timeout=TIMEOUT),
        "GetBatchCompliance": lambda b: api.compliance.GetBatchCompliance(
            cp.GetBatchComplianceRequest(batch_id=b, min_position=d.position), metadata=samsung, timeout=TIMEOUT),
        "ReportLost": lambda b: api.commands.ReportLost(c.ReportLostRequest(request_id=str(uuid.uuid4()),
            batch_id=b, serials=["SNb10"], occurred_at=ts(T0 + timedelta(days=20))), metadata=samsung),
    }
    for name, call in calls.items():
        theirs = not_found(lambda call=call: call(sk_batch))  # type: ignore[misc]
        absent = not_found(lambda call=call: call(missing))  # type: ignore[misc]
        same_refusal(theirs, sk_batch, absent, missing)
        assert sk_batch not in (theirs.details() or "").replace(sk_batch, "", 1), name
    # the other partner's batch is untouched; the admin still sees it whole
    admin = creds.md("admin")
    batch = api.queries.GetBatch(q.GetBatchRequest(batch_id=sk_batch), metadata=admin).batch
    assert batch.batch_id == sk_batch
    sk = creds.md("partner", d.ids["sk"])
    not_found(lambda: api.queries.GetBatch(q.GetBatchRequest(batch_id=d.ids["a2"]), metadata=sk))


def test_lists_and_aggregates_show_a_partner_only_its_own_rows(world) -> None:  # type: ignore[no-untyped-def]
    server, d, creds = world
    api = server.stubs()
    samsung = creds.md("partner", d.ids["samsung"])
    own_batches = {d.ids["a1"], d.ids["a2"]}
    own_parties = {d.ids["samsung"], d.ids["samsung_sds"]}
    at = d.position
    listed = api.queries.ListBatches(q.ListBatchesRequest(min_position=at), metadata=samsung, timeout=TIMEOUT)
    assert {b.batch_id for b in listed.batches} == own_batches
    probe = api.queries.ListBatches(q.ListBatchesRequest(partner_id=d.ids["sk"], min_position=at), metadata=samsung)
    assert list(probe.batches) == []
    ownership = api.queries.GetOwnership(q.GetOwnershipRequest(min_position=at), metadata=samsung, timeout=TIMEOUT)
    assert {p.partner_id for p in ownership.partners} == own_parties
    assert sum(p.gpus_held for p in ownership.partners) > 0
    sites = api.queries.GetSiteInventory(q.GetSiteInventoryRequest(min_position=at), metadata=samsung, timeout=TIMEOUT)
    assert [s.site_id for s in sites.sites] == [d.ids["site_samsung"]]
    findings = api.compliance.ListFindings(cp.ListFindingsRequest(min_position=at), metadata=samsung, timeout=TIMEOUT)
    assert findings.findings and {f.batch_id for f in findings.findings} <= own_batches
    everything = api.compliance.ListFindings(cp.ListFindingsRequest(min_position=at), metadata=creds.md("regulator"))
    theirs = [f for f in everything.findings if f.batch_id == d.ids["b1"]]
    assert theirs, "the regulator sees the other partner's finding"
    not_found(lambda: api.compliance.GetFinding(cp.GetFindingRequest(finding_id=theirs[0].finding_id), metadata=samsung))
    own = findings.findings[0].finding_id
    assert api.compliance.GetFinding(cp.GetFindingRequest(finding_id=own), metadata=samsung).finding.finding_id == own
    overdue = api.compliance.ListOverdueItems(cp.ListOverdueItemsRequest(
        as_of=ts(T0 + timedelta(days=400)), min_position=at), metadata=samsung, timeout=TIMEOUT)
    assert overdue.items and {i.batch_id for i in overdue.items} <= own_batches
    all_overdue = api.compliance.ListOverdueItems(cp.ListOverdueItemsRequest(
        as_of=ts(T0 + timedelta(days=400)), min_position=at), metadata=creds.md("auditor"), timeout=TIMEOUT)
    assert d.ids["b1"] in {i.batch_id for i in all_overdue.items}
    # a site operator sees and acts only at its own sites
    operator = creds.md("site_operator", d.ids["sk"])
    sites = api.queries.GetSiteInventory(q.GetSiteInventoryRequest(min_position=at), metadata=operator, timeout=TIMEOUT)
    assert [s.site_id for s in sites.sites] == [d.ids["site_sk"]]
    not_found(lambda: api.commands.Install(c.InstallRequest(request_id=str(uuid.uuid4()),
        batch_id=d.ids["a1"], site_id=d.ids["site_samsung"], rack="R9", host="H9", serials=["SNa10"],
        occurred_at=ts(T0 + timedelta(days=12))), metadata=operator))


def test_a_partners_report_covers_only_its_own_party(world) -> None:  # type: ignore[no-untyped-def]
    server, d, creds = world
    reports = reports_pb2_grpc.ReportServiceStub(server.channel())
    samsung = creds.md("partner", d.ids["samsung"])
    api = server.stubs()
    api.queries.GetOwnership(q.GetOwnershipRequest(min_position=d.position), metadata=samsung, timeout=TIMEOUT)
    for kind in (rp.REPORT_KIND_OWNERSHIP, rp.REPORT_KIND_CUSTODY):
        request = rp.GenerateReportRequest(kind=kind, format=rp.REPORT_FORMAT_JSON)
        body = b"".join(m.chunk for m in reports.GenerateReport(request, metadata=samsung, timeout=120)
                        if m.WhichOneof("part") == "chunk")
        assert d.ids["samsung"].encode() in body or d.ids["a1"].encode() in body, kind
        leaked = [name for name, ident in (("sk", d.ids["sk"]), ("b1", d.ids["b1"]), ("site_sk", d.ids["site_sk"]))
                  if ident.encode() in body] + (["SK Telecom"] if b"SK Telecom" in body else [])
        assert leaked == [], (rp.ReportKind.Name(kind), leaked)
    with pytest.raises(grpc.RpcError) as refused:
        list(reports.GenerateReport(rp.GenerateReportRequest(
            kind=rp.REPORT_KIND_OWNERSHIP, format=rp.REPORT_FORMAT_JSON, partner=d.ids["sk"]), metadata=samsung))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _report(reports: Any, request: rp.GenerateReportRequest, metadata: Any) -> bytes:
    return b"".join(m.chunk for m in reports.GenerateReport(request, metadata=metadata, timeout=120)
                    if m.WhichOneof("part") == "chunk")


def test_a_partners_compliance_officer_gets_its_own_compliance_report_and_the_regulator_gets_everyones(world) -> None:  # type: ignore[no-untyped-def]
    server, d, creds = world
    reports = reports_pb2_grpc.ReportServiceStub(server.channel())
    samsung = creds.md("partner", d.ids["samsung"])
    server.stubs().queries.GetOwnership(q.GetOwnershipRequest(min_position=d.position), metadata=samsung,
                                        timeout=TIMEOUT)
    # every identifier of SK's batch: its id, PO number, shipment, serials, site, and SK itself
    theirs = {"b1": d.ids["b1"], "PO-b1": "PO-b1", "S-b1": "S-b1", **{s: s for s in (f"SNb1{i}" for i in range(4))},
              "site_sk": d.ids["site_sk"], "sk": d.ids["sk"], "SK Telecom": "SK Telecom"}
    ours = {"a1": d.ids["a1"], "PO-a1": "PO-a1", "PO-a2": "PO-a2", "S-a1": "S-a1", "Samsung SDS": "Samsung SDS"}
    for fmt in (rp.REPORT_FORMAT_JSON, rp.REPORT_FORMAT_HTML, rp.REPORT_FORMAT_CSV):
        request = rp.GenerateReportRequest(kind=rp.REPORT_KIND_COMPLIANCE, format=fmt)
        own = _report(reports, request, samsung)
        everyones = _report(reports, request, creds.md("regulator"))
        name = rp.ReportFormat.Name(fmt)
        assert [k for k, v in ours.items() if v.encode() not in own] == [], name
        assert [k for k, v in theirs.items() if v.encode() in own] == [], name
        assert [k for k, v in {**ours, "b1": d.ids["b1"], "PO-b1": "PO-b1", "S-b1": "S-b1"}.items()
                if v.encode() not in everyones] == [], name
        assert d.ids["samsung"].encode() in own  # its own report says whose scope it is (the "Partner scope" input)
    # its own report may be narrowed to a subsidiary, never widened to another partner
    sub = _report(reports, rp.GenerateReportRequest(kind=rp.REPORT_KIND_COMPLIANCE, format=rp.REPORT_FORMAT_JSON,
                                                    partner=d.ids["samsung_sds"]), samsung)
    assert b"PO-a2" in sub and b"PO-b1" not in sub
    with pytest.raises(grpc.RpcError) as refused:
        list(reports.GenerateReport(rp.GenerateReportRequest(
            kind=rp.REPORT_KIND_COMPLIANCE, format=rp.REPORT_FORMAT_JSON, partner=d.ids["sk"]), metadata=samsung))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_partners_subscription_carries_only_its_own_batches_events(world) -> None:  # type: ignore[no-untyped-def]
    server, d, creds = world
    api = server.stubs()
    # units of Samsung's batch went on to SK and to Samsung's subsidiary (recorded onward movements):
    # the recipient SK is not Samsung's to learn on any path, its subsidiary is
    for serial, recipient in (("SNa10", "sk"), ("SNa11", "samsung_sds")):
        d.do("RecordOnwardMovement", c.RecordOnwardMovementRequest(request_id=str(uuid.uuid4()), batch_id=d.ids["a1"],
             serials=[serial], kind=c.ONWARD_MOVEMENT_KIND_TRANSSHIPMENT, country="KR", place="Busan",
             recipient_id=d.ids[recipient], occurred_at=ts(T0 + timedelta(days=20))))
    samsung = creds.md("partner", d.ids["samsung"])
    listed = api.queries.ListBatchEvents(q.ListBatchEventsRequest(batch_id=d.ids["a1"]), metadata=samsung).events
    assert [json.loads(e.payload_json)["recipient_id"] for e in listed if e.type == "GpuBatch.OnwardMovementRecorded"] == [
        None, d.ids["samsung_sds"]]
    moved = api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(batch_id=d.ids["a1"], min_position=d.position),
                                              metadata=samsung, timeout=TIMEOUT).onward_movements
    assert [m.recipient_id for m in moved] == ["", d.ids["samsung_sds"]]
    trail = api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(batch_id=d.ids["a1"], min_position=d.position),
                                        metadata=samsung, timeout=TIMEOUT).entries
    assert d.ids["sk"] not in "".join(e.detail_json for e in trail) and d.ids["samsung_sds"] in trail[-1].detail_json
    admin_listed = api.queries.ListBatchEvents(q.ListBatchEventsRequest(batch_id=d.ids["a1"]), metadata=d.admin).events
    assert d.ids["sk"] in "".join(e.payload_json for e in admin_listed)  # the exporter's staff see it
    head = server.head()
    stream = api.events.SubscribeEvents(ev.SubscribeEventsRequest(after_position=0),
                                        metadata=creds.md("partner", d.ids["samsung"]), timeout=TIMEOUT)
    seen: list[str] = []
    raw = b""
    live = False
    for message in stream:
        raw += message.SerializeToString()
        if message.WhichOneof("content") == "checkpoint" and message.checkpoint.position >= head:
            if live:
                break
            # caught up: now both partners order again, live; only Samsung's new batch may arrive
            live = True
            for buyer in ("sk", "samsung", "sk"):
                d.do("PlaceOrder", c.PlaceOrderRequest(request_id=str(uuid.uuid4()),
                    po_number=f"PO-live-{buyer}-{uuid.uuid4().hex[:4]}", supplier_id=d.ids["nvidia"],
                    buyer_id=d.ids[buyer], model_id=d.ids["b200"], quantity=1, unit_price="30000", currency="USD",
                    occurred_at=ts(T0)))
            head = server.head()
            continue
        seen += [e.aggregate_id for e in message.events.events]
    stream.cancel()
    new = set(seen) - {d.ids["a1"], d.ids["a2"]}
    assert {d.ids["a1"], d.ids["a2"]} <= set(seen) and len(new) == 1
    [samsung_live] = new
    admin = creds.md("admin")
    assert api.queries.GetBatch(q.GetBatchRequest(batch_id=samsung_live), metadata=admin).batch.buyer_id == d.ids["samsung"]
    assert d.ids["b1"].encode() not in raw and d.ids["sk"].encode() not in raw
    assert d.ids["samsung_sds"].encode() in raw  # its subsidiary, the other recipient, is shown
    # the same request by name of the other partner's batch: nothing, exactly as for a missing batch
    stream = api.events.SubscribeEvents(ev.SubscribeEventsRequest(after_position=0, batch_id=d.ids["b1"]),
                                        metadata=creds.md("partner", d.ids["samsung"]), timeout=TIMEOUT)
    first = next(stream)
    stream.cancel()
    assert first.WhichOneof("content") == "checkpoint"
