"""A small world for compliance-finding scenarios, driven through the gRPC API.

Every command goes through the real server; every query asks the compliance read model for the
position of the last command (``min_position``), so it reads its own writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from tests.e2e.conftest import Stubs
from tests.e2e.world import new_request_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPERATOR = "ops@buyer"
OFFICER = "officer-kim"
TIMEOUT = 30


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def md(actor: str = OPERATOR) -> list[tuple[str, str]]:
    return [("x-gpureg-actor", actor)]


@dataclass
class FindingsWorld:
    api: Stubs
    position: int = 0
    ids: dict[str, str] = field(default_factory=dict)
    _serial: int = 0

    # --------------------------------------------------------------------- commands
    def do(self, rpc: str, request: Any, actor: str = OPERATOR) -> Any:
        service = self.api.compliance if rpc in ("AcknowledgeFinding", "ResolveFinding", "ImportScreeningList") \
            else self.api.commands
        response = getattr(service, rpc)(request, metadata=md(actor), timeout=TIMEOUT)
        self.position = max(self.position, int(response.position))
        return response

    def party(self, key: str, name: str, country: str = "KR", roles: tuple[str, ...] = ("end_user",),
              hq: str | None = None) -> str:
        self.ids[key] = str(self.do("RegisterParty", c.RegisterPartyRequest(request_id=new_request_id(),
            name=name, country=country, roles=list(roles), headquarters_country=hq or country,
            occurred_at=ts(T0 - timedelta(days=60)))).aggregate_id)
        return self.ids[key]

    def site(self, key: str, name: str, country: str = "KR", kw: str = "40000") -> str:
        self.ids[key] = str(self.do("RegisterSite", c.RegisterSiteRequest(request_id=new_request_id(),
            name=name, operator_id=self.ids["buyer"], country=country, power_capacity_kw=kw,
            occurred_at=ts(T0 - timedelta(days=60)))).aggregate_id)
        return self.ids[key]

    def authorization(self, key: str, auth_type: int, number: str, end_users: list[str],
                      valid_to: datetime | None = None, quantity_limit: int | None = None) -> str:
        request = c.RegisterAuthorizationRequest(request_id=new_request_id(),
            auth_type=auth_type, number=number, eccns=["3A090"], destination_countries=["KR"],
            consignee_ids=[self.ids["buyer"]], end_user_ids=end_users,
            valid_from=ts(datetime(2026, 1, 1, tzinfo=UTC)), occurred_at=ts(T0 - timedelta(days=60)),
        )
        if valid_to is not None:
            request.valid_to.CopyFrom(ts(valid_to))
        if quantity_limit is not None:
            request.quantity_limit = quantity_limit
        self.ids[key] = str(self.do("RegisterAuthorization", request).aggregate_id)
        return self.ids[key]

    def batch(self, quantity: int = 8, serialized: bool = True, authorization: str = "license",
              at: datetime = T0) -> tuple[str, list[str]]:
        """An ordered, cleared batch (with its serials registered when ``serialized``)."""
        batch = str(self.do("PlaceOrder", c.PlaceOrderRequest(request_id=new_request_id(),
            po_number=f"PO-{len(self.ids)}", supplier_id=self.ids["nvidia"], buyer_id=self.ids["buyer"],
            model_id=self.ids["b200"], quantity=quantity, unit_price="30000", currency="USD",
            occurred_at=ts(at))).aggregate_id)
        self.ids[f"batch-{len(self.ids)}"] = batch
        self.do("RequestClearance", c.RequestClearanceRequest(request_id=new_request_id(),
            batch_id=batch, authorization_id=self.ids[authorization], eccn="3A090.a", destination_country="KR",
            consignee_id=self.ids["buyer"], end_user_id=self.ids["buyer"], quantity=quantity,
            end_use="AI training", occurred_at=ts(at + timedelta(days=1))))
        self.do("GrantClearance", c.GrantClearanceRequest(request_id=new_request_id(),
            batch_id=batch, authorization_id=self.ids[authorization], occurred_at=ts(at + timedelta(days=2))))
        serials: list[str] = []
        if serialized:
            serials = [f"SN{self._serial + i:06d}" for i in range(quantity)]
            self._serial += quantity
            self.do("RegisterSerials", c.RegisterSerialsRequest(request_id=new_request_id(),
                batch_id=batch, units=[c.UnitIdentity(serial=s) for s in serials],
                occurred_at=ts(at + timedelta(days=3))))
        return batch, serials

    def ship(self, batch: str, shipment: str, at: datetime, serials: list[str] | None = None,
             quantity: int | None = None, country: str = "KR", site: str = "site") -> Any:
        request = c.ShipRequest(request_id=new_request_id(), batch_id=batch, shipment_id=shipment, destination_country=country,
                                destination_site_id=self.ids[site], serials=serials or [], occurred_at=ts(at))
        if quantity is not None:
            request.quantity = quantity
        return self.do("Ship", request)

    def receive(self, batch: str, shipment: str, at: datetime, serials: list[str] | None = None,
                quantity: int | None = None, site: str = "site") -> Any:
        request = c.ReceiveRequest(request_id=new_request_id(), batch_id=batch, shipment_id=shipment, receiving_party_id=self.ids["buyer"],
                                   site_id=self.ids[site], serials=serials or [], occurred_at=ts(at))
        if quantity is not None:
            request.quantity = quantity
        return self.do("Receive", request)

    def install(self, batch: str, at: datetime, serials: list[str] | None = None, quantity: int | None = None,
                site: str = "site") -> Any:
        request = c.InstallRequest(request_id=new_request_id(), batch_id=batch, site_id=self.ids[site], rack="R1", host="H1",
                                   serials=serials or [], occurred_at=ts(at))
        if quantity is not None:
            request.quantity = quantity
        return self.do("Install", request)

    def assign(self, batch: str, to: str, at: datetime, serials: list[str]) -> Any:
        return self.do("Assign", c.AssignRequest(request_id=new_request_id(), batch_id=batch, assignee_id=self.ids[to], purpose="training",
                                                 serials=serials, occurred_at=ts(at)))

    def deliver(self, batch: str, serials: list[str], at: datetime, shipment: str = "S1") -> datetime:
        """Ship, receive, install and assign to the buyer, a few days apart; returns the last time."""
        self.ship(batch, shipment, at, serials)
        self.receive(batch, shipment, at + timedelta(days=5), serials)
        self.install(batch, at + timedelta(days=10), serials)
        self.assign(batch, "buyer", at + timedelta(days=12), serials)
        return at + timedelta(days=12)

    def acknowledge(self, finding_id: str, note: str = "looking into it") -> Any:
        return self.do("AcknowledgeFinding", cp.AcknowledgeFindingRequest(request_id=new_request_id(), finding_id=finding_id, note=note),
                       actor=OFFICER)

    def resolve(self, finding_id: str, note: str = "checked with the partner; documented") -> Any:
        return self.do("ResolveFinding", cp.ResolveFindingRequest(request_id=new_request_id(), finding_id=finding_id, note=note), actor=OFFICER)

    # ---------------------------------------------------------------------- queries
    def findings(self, **filters: Any) -> list[cp.Finding]:
        found: list[cp.Finding] = []
        token = ""
        while True:
            page = self.api.compliance.ListFindings(
                cp.ListFindingsRequest(min_position=self.position, page_token=token, **filters), timeout=TIMEOUT)
            found.extend(page.findings)
            token = page.next_page_token
            if not token:
                return found

    def compliance(self, batch: str) -> cp.GetBatchComplianceResponse:
        response: cp.GetBatchComplianceResponse = self.api.compliance.GetBatchCompliance(
            cp.GetBatchComplianceRequest(batch_id=batch, min_position=self.position), timeout=TIMEOUT)
        return response

    def only(self, rule_id: str, **filters: Any) -> cp.Finding:
        found = self.findings(rule_ids=[rule_id], **filters)
        assert len(found) == 1, [(f.rule_id, list(f.reasons)) for f in self.findings()]
        return found[0]


def build_findings_world(api: Stubs) -> FindingsWorld:
    """Parties, three sites (Korea, Japan, a 10 kW server room), a 1 kW GPU model, a license
    (valid through 2026, naming the buyer as end user) and a no-license-required determination
    naming the buyer and a tenant."""
    w = FindingsWorld(api)
    w.party("nvidia", "NVIDIA Corporation", "US", ("supplier", "exporter"))
    w.party("buyer", "Korea AI Compute Co", "KR", ("purchaser", "consignee", "end_user", "operator"))
    w.party("tenant", "Hanbit Cloud", "KR", ("end_user",))
    w.party("parent", "Red Dragon Holdings", "CN", ("purchaser",))
    w.site("site", "Pangyo 1")
    w.site("site_jp", "Osaka 3", country="JP")
    w.site("closet", "Gangnam server room", kw="10")
    w.ids["b200"] = str(w.do("RegisterGpuModel", c.RegisterGpuModelRequest(request_id=new_request_id(),
        vendor="NVIDIA", name="B200", dense_tops={"fp8": "4500", "fp16": "2250"}, bit_lengths={"fp8": 8, "fp16": 16},
        die_area_mm2="1600", datacenter_marketed=True, tdp_watts=1000,
        occurred_at=ts(T0 - timedelta(days=60)))).aggregate_id)
    w.authorization("license", c.AUTHORIZATION_TYPE_LICENSE, "D7654321", [w.ids["buyer"]],
                    valid_to=datetime(2027, 1, 1, tzinfo=UTC), quantity_limit=1000)
    w.authorization("nlr", c.AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED, "", [w.ids["buyer"], w.ids["tenant"]])
    return w
