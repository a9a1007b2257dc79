"""An independent checker's world: parties, sites, models, authorizations and batches created only
through the public gRPC API of a real server, the way an outside grader would drive it.

Every command returns its log position; queries of the compliance read model ask for the last
one (``min_position``) so they read their own writes. ``refused`` checks that a refused command
wrote nothing (the log head did not move).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import reports_pb2 as rp
from registry.api.v1 import reports_pb2_grpc
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.test_grpc_errors import details
from tests.e2e.world import new_request_id, ts

OFFICER = "officer-independent"
T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
TIMEOUT = 30

# The reference figures (export-controls.md): dense FP8 x 8 bits, INT8 x 8 bits.
H100 = {"name": "H100 SXM", "dense_tops": {"fp8": "1979", "fp16": "989.4"}, "die_area_mm2": "814"}
A100 = {"name": "A100 SXM", "dense_tops": {"int8": "624", "fp16": "312"}, "die_area_mm2": "826"}
CSL_HEADER = "_id,source,entity_number,type,programs,name,title,addresses,alt_names"
ENTITY_LIST = "Entity List (EL) - Bureau of Industry and Security"


def csl(*rows: tuple[str, str, str, str]) -> bytes:
    """A Consolidated Screening List file: (id, name, addresses, alt names) rows on the Entity List."""
    lines = [CSL_HEADER]
    for entry_id, name, addresses, alt_names in rows:
        lines.append(f'{entry_id},"{ENTITY_LIST}",,Entity,EAR,"{name}",,"{addresses}","{alt_names}"')
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Refusal:
    code: grpc.StatusCode
    reason: str
    subjects: list[str]
    fields: dict[str, str]
    message: str


@dataclass
class Scenario:
    server: RunningServer
    api: Stubs
    position: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ plumbing
    def md(self, actor: str = OFFICER) -> list[tuple[str, str]]:
        return [("x-gpureg-actor", actor)]

    def send(self, method: str, request: Any, actor: str = OFFICER) -> str:
        stub = self.api.compliance if hasattr(self.api.compliance, method) else self.api.commands
        response = getattr(stub, method)(request, metadata=self.md(actor), timeout=TIMEOUT)
        self.position = max(self.position, int(response.position))
        return str(response.aggregate_id)

    def refused(self, call: Callable[[], Any]) -> Refusal:
        """Run a command that must be refused; check that it wrote nothing."""
        head = self.server.head()
        try:
            call()
        except grpc.RpcError as error:
            assert self.server.head() == head, "a refused command wrote events"
            found = details(error)
            info = found.get("ErrorInfo")
            subjects = [v.subject for v in found["PreconditionFailure"].violations] if "PreconditionFailure" in found else []
            fields = {v.field: v.description for v in found["BadRequest"].field_violations} if "BadRequest" in found else {}
            return Refusal(error.code(), info.reason if info else "", subjects, fields, str(error.details()))
        raise AssertionError("the command was accepted; the rule says it must be refused")

    # ------------------------------------------------------------------ reference data
    def party(self, key: str, country: str, hq: str = "", roles: tuple[str, ...] = ("purchaser", "consignee", "end_user"),
              parent: str = "", immediate: str = "", **extra: Any) -> str:
        self.ids[key] = self.send("RegisterParty", c.RegisterPartyRequest(
            request_id=new_request_id(), name=extra.pop("name", key), country=country, roles=list(roles),
            headquarters_country=hq or country, ultimate_parent_id=self.ids.get(parent, parent),
            immediate_parent_id=self.ids.get(immediate, immediate), occurred_at=ts(T0 - timedelta(days=30)), **extra))
        return self.ids[key]

    def model(self, key: str, spec: dict[str, Any], datacenter: bool = True, gpus: int = 1, tdp: int = 700) -> str:
        precisions = spec["dense_tops"]
        self.ids[key] = self.send("RegisterGpuModel", c.RegisterGpuModelRequest(
            request_id=new_request_id(), vendor="NVIDIA", name=spec["name"], part_number=spec.get("part", f"PN-{key}"),
            dense_tops=precisions, bit_lengths={p: int(p.strip("fpint") or 8) for p in precisions},
            die_area_mm2=spec["die_area_mm2"], datacenter_marketed=datacenter, tdp_watts=tdp, gpus_per_unit=gpus,
            occurred_at=ts(T0 - timedelta(days=30))))
        return self.ids[key]

    def site(self, key: str, operator: str, country: str = "KR", power_kw: str = "100000") -> str:
        self.ids[key] = self.send("RegisterSite", c.RegisterSiteRequest(
            request_id=new_request_id(), name=key, operator_id=self.ids[operator], country=country,
            power_capacity_kw=power_kw, occurred_at=ts(T0 - timedelta(days=30))))
        return self.ids[key]

    def license(self, key: str, countries: tuple[str, ...] = ("KR",), eccns: tuple[str, ...] = ("3A090", "4A090"),
                valid_to: datetime | None = None, auth_type: int = c.AUTHORIZATION_TYPE_LICENSE,
                valid_from: datetime = datetime(2025, 1, 1, tzinfo=UTC), **extra: Any) -> str:
        request = c.RegisterAuthorizationRequest(
            request_id=new_request_id(), auth_type=auth_type, number=extra.pop("number", f"D{abs(hash(key)) % 10**7:07d}"),
            eccns=list(eccns), destination_countries=list(countries), valid_from=ts(valid_from),
            occurred_at=ts(T0 - timedelta(days=30)), **extra)
        if valid_to is not None:
            request.valid_to.CopyFrom(ts(valid_to))
        self.ids[key] = self.send("RegisterAuthorization", request)
        return self.ids[key]

    def import_list(self, content: bytes, source: str = "US CSL", at: datetime | None = None) -> str:
        return self.send("ImportScreeningList", cp.ImportScreeningListRequest(
            request_id=new_request_id(), source=source, content=content, occurred_at=ts(at or T0 - timedelta(days=20))))

    # ------------------------------------------------------------------ the lifecycle
    def order(self, key: str, buyer: str, model: str, quantity: int, at: datetime = T0, price: str = "30000.00") -> str:
        self.ids[key] = self.send("PlaceOrder", c.PlaceOrderRequest(
            request_id=new_request_id(), po_number=f"PO-{key}", supplier_id=self.ids["nvidia"], buyer_id=self.ids[buyer],
            model_id=self.ids[model], quantity=quantity, unit_price=price, currency="USD", occurred_at=ts(at)))
        return self.ids[key]

    def request_clearance(self, batch: str, consignee: str, end_user: str, quantity: int, eccn: str = "3A090.a",
                          country: str = "KR", at: datetime = T0 + timedelta(hours=1), authorization: str = "") -> str:
        return self.send("RequestClearance", c.RequestClearanceRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], eccn=eccn, destination_country=country,
            consignee_id=self.ids[consignee], end_user_id=self.ids[end_user], quantity=quantity,
            end_use="Sovereign AI model training", authorization_id=self.ids.get(authorization, ""), occurred_at=ts(at)))

    def grant(self, batch: str, authorization: str, at: datetime = T0 + timedelta(hours=2)) -> str:
        return self.send("GrantClearance", c.GrantClearanceRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], authorization_id=self.ids[authorization],
            occurred_at=ts(at)))

    def serials(self, batch: str, serials: list[str], at: datetime = T0 + timedelta(hours=3)) -> str:
        return self.send("RegisterSerials", c.RegisterSerialsRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], units=[c.UnitIdentity(serial=s) for s in serials],
            occurred_at=ts(at)))

    def ship(self, batch: str, shipment: str, serials: list[str], country: str = "KR", site: str = "",
             at: datetime = T0 + timedelta(days=1), **extra: Any) -> str:
        return self.send("Ship", c.ShipRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], shipment_id=shipment, serials=serials,
            carrier_id=self.ids["carrier"], origin="San Jose, US", destination_country=country,
            destination_site_id=self.ids.get(site, ""), itn=f"X2026{abs(hash(shipment)) % 10**9:09d}",
            occurred_at=ts(at), **extra))

    def receive(self, batch: str, shipment: str, serials: list[str], receiver: str, site: str,
                at: datetime = T0 + timedelta(days=4)) -> str:
        return self.send("Receive", c.ReceiveRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], shipment_id=shipment, serials=serials,
            receiving_party_id=self.ids[receiver], site_id=self.ids[site], occurred_at=ts(at)))

    def install(self, batch: str, serials: list[str], site: str, at: datetime = T0 + timedelta(days=6)) -> str:
        return self.send("Install", c.InstallRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], serials=serials, site_id=self.ids[site],
            rack="R01", host="hgx-01", occurred_at=ts(at)))

    def assign(self, batch: str, serials: list[str], assignee: str, at: datetime = T0 + timedelta(days=8)) -> str:
        return self.send("Assign", c.AssignRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], serials=serials, assignee_id=self.ids[assignee],
            purpose="LLM training", occurred_at=ts(at)))

    def transfer(self, batch: str, serials: list[str], to_owner: str, to_site: str = "",
                 at: datetime = T0 + timedelta(days=10)) -> str:
        return self.send("Transfer", c.TransferRequest(
            request_id=new_request_id(), batch_id=self.ids[batch], serials=serials, to_owner_id=self.ids[to_owner],
            to_site_id=self.ids.get(to_site, ""), reason="in-country resale", occurred_at=ts(at)))

    def delivered(self, batch: str, buyer: str, serials: list[str], site: str = "site", authorization: str = "lic",
                  shipment: str = "SH-1") -> None:
        """Order, clear, register serials, ship, receive and install: the happy path up to installation."""
        self.request_clearance(batch, buyer, buyer, len(serials))
        self.grant(batch, authorization)
        self.serials(batch, serials)
        self.ship(batch, shipment, serials, site=site)
        self.receive(batch, shipment, serials, buyer, site)
        self.install(batch, serials, site)

    # ------------------------------------------------------------------ reading
    def compliance(self, batch: str) -> cp.GetBatchComplianceResponse:
        return self.api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(
            batch_id=self.ids[batch], min_position=self.position), metadata=self.md(), timeout=TIMEOUT)

    def findings(self, batch: str = "", rule: str = "") -> list[cp.Finding]:
        request = cp.ListFindingsRequest(batch_id=self.ids.get(batch, ""), min_position=self.position,
                                         rule_ids=[rule] if rule else [])
        return list(self.api.compliance.ListFindings(request, metadata=self.md(), timeout=TIMEOUT).findings)

    def rules(self, batch: str) -> list[str]:
        return sorted({f.rule_id for f in self.findings(batch)})

    def requirements(self, model: str, country: str, parties: dict[str, str] | None = None,
                     as_of: datetime | None = None) -> cp.GetLicenseRequirementsResponse:
        request = cp.GetLicenseRequirementsRequest(
            model_id=self.ids[model], destination_country=country,
            parties=[cp.PartyRole(role=role, party_id=self.ids[p]) for role, p in (parties or {}).items()])
        if as_of is not None:
            request.as_of.CopyFrom(ts(as_of))
        return self.api.compliance.GetLicenseRequirements(request, metadata=self.md(), timeout=TIMEOUT)

    def classify(self, model: str, as_of: datetime | None = None) -> cp.Classification:
        request = cp.ClassifyModelRequest(model_id=self.ids[model])
        if as_of is not None:
            request.as_of.CopyFrom(ts(as_of))
        return self.api.compliance.ClassifyModel(request, metadata=self.md(), timeout=TIMEOUT).classification

    def report(self, kind: int = rp.REPORT_KIND_COMPLIANCE, as_of: datetime | None = None, **extra: Any) -> dict[str, Any]:
        stub = reports_pb2_grpc.ReportServiceStub(self.server.channel())
        request = rp.GenerateReportRequest(kind=kind, format=rp.REPORT_FORMAT_JSON, **extra)
        if as_of is not None:
            request.as_of.CopyFrom(ts(as_of))
        messages = list(stub.GenerateReport(request, metadata=self.md(), timeout=120))
        body = b"".join(m.chunk for m in messages[1:])
        loaded: dict[str, Any] = json.loads(body)
        return loaded


def base_world(server: RunningServer) -> Scenario:
    """The Korea deal's cast: NVIDIA, a carrier, a Korean buyer with a site, H100 and A100 models,
    and a license for Korea (3A090 and 4A090, no named parties)."""
    s = Scenario(server, server.stubs())
    s.party("nvidia", "US", roles=("supplier", "exporter"), name="NVIDIA Corporation")
    s.party("carrier", "KR", roles=("carrier",), name="Korean Air Cargo")
    s.party("samsung", "KR", roles=("purchaser", "consignee", "end_user", "operator"), name="Samsung Electronics")
    s.site("site", "samsung", power_kw="100000")
    s.model("h100", H100)
    s.model("a100", A100)
    s.license("lic", number="D1000001")
    return s


def now() -> datetime:
    return datetime.now(UTC)
