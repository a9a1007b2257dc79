"""Confidentiality sweep through one real server (SQLite, bearer tokens, shared by the module):

* partner A's answer from every read RPC it may call carries nothing of partner B: not its
  batch, party, site, PO number, shipment, serials, the EPCIS event it captured, nor its subject;
* legal holds are seen only by policy.HOLD_READERS (admin, compliance officer, auditor,
  regulator), on every path that shows them, role by role: GetBatchCompliance, SubscribeEvents,
  ExportJournal, the compliance report; no partner sees a hold, not even on its own batch;
* request records (and the EPCIS text they captured) never reach a partner's subscription; the
  staff and overseers who read the whole log get them, captured text included.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import epcis_pb2 as ep
from registry.api.v1 import epcis_pb2_grpc, journal_pb2_grpc, locations_pb2_grpc, reports_pb2_grpc
from registry.api.v1 import events_pb2 as ev
from registry.api.v1 import journal_pb2 as jp
from registry.api.v1 import locations_pb2 as lp
from registry.api.v1 import queries_pb2 as q
from registry.api.v1 import reports_pb2 as rp
from registry.bootstrap import build_epcis_http
from registry.config import Settings
from registry.epcis import vocabulary as v
from registry.epcis.export import document
from registry.epcis.http import EpcisHttpServer
from registry.journal.note import Signer
from registry.security.policy import HOLD_READERS, MATRIX
from registry.security.principal import Role
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials
from tests.e2e.test_epcis_access import NOW, install_event
from tests.e2e.test_partner_isolation import Deal, build_deal

TIMEOUT = 60
ORIGIN = "registry.test/gpureg"
A_HOLD = ("Seoul Central District Prosecutors Office", "HOLD-REF-A-7731", "reason-xyzzy-a")
B_HOLD = ("Fair Trade Commission", "HOLD-REF-B-4410", "reason-plugh-b")
A_EVENT = f"urn:uuid:{uuid.uuid4()}"
B_EVENT = f"urn:uuid:{uuid.uuid4()}"
LATER = Timestamp()
LATER.FromDatetime(NOW.replace(year=2027))  # every delivery and installation overdue by then


@dataclass
class World:
    server: RunningServer
    d: Deal
    creds: Credentials
    head: int
    rest: str  # the EPCIS REST binding's base URL

    def md(self, role: Role) -> list[tuple[str, str]]:
        """A token of ``role``; a partner is partner A (Samsung), a site operator A's operator."""
        party = self.d.ids["samsung"] if role in (Role.PARTNER, Role.SITE_OPERATOR) else None
        return self.creds.md(role.value, party, subject=f"{role.value}-reader")

    @property
    def a(self) -> list[tuple[str, str]]:
        return self.creds.md("partner", self.d.ids["samsung"], subject="samsung-ops")

    def theirs(self) -> dict[str, str]:
        """Every identifier of partner B's that A must never see."""
        ids = self.d.ids
        return {"b1": ids["b1"], "sk": ids["sk"], "site_sk": ids["site_sk"], "SK Telecom": "SK Telecom",
                "PO-b1": "PO-b1", "S-b1": "S-b1", **{s: s for s in (f"SNb1{i}" for i in range(4))},
                "B's captured eventID": B_EVENT, "B's subject": "sk-ops",
                **{f"B's hold {i}": t for i, t in enumerate(B_HOLD)}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path: Path = tmp_path_factory.mktemp("confidentiality")
    creds = Credentials.create(path)
    Signer.generate(ORIGIN).save(path / "log.key")
    server = RunningServer(Settings(database_url=f"sqlite:///{path}/registry.db", listen="127.0.0.1:0",
                                    projection_process=False, subscription_poll_seconds=0.2,
                                    journal_key_file=str(path / "log.key"), journal_checkpoint_seconds=0.1,
                                    access_log=True,
                                    **creds.settings())).start()
    try:
        d = build_deal(server.stubs(), creds.md("admin", subject="registry-admin"))
        d.batch("a3", "samsung", "site_samsung")  # A's rows after B's too (a page may end on B's row)
        officer = creds.md("compliance_officer", subject="export-officer")
        for batch, (agency, reference, reason) in (("a1", A_HOLD), ("b1", B_HOLD)):
            placed = server.stubs().compliance.PlaceLegalHold(cp.PlaceLegalHoldRequest(
                request_id=str(uuid.uuid4()), batch_id=d.ids[batch], agency=agency, reference=reference,
                reason=reason), metadata=officer, timeout=TIMEOUT)
            d.position = max(d.position, placed.position)
        # each partner captures an installation of its own batch (recorded under its subject)
        epcis = epcis_pb2_grpc.EpcisServiceStub(server.channel())  # type: ignore[no-untyped-call]
        for batch, serial, event_id, party, subject in (("a1", "SNa12", A_EVENT, "samsung", "samsung-ops"),
                                                        ("b1", "SNb12", B_EVENT, "sk", "sk-ops")):
            event = install_event(server, d.ids[batch], serial)
            event["eventID"] = event_id
            answer = epcis.CaptureEpcis(ep.CaptureEpcisRequest(document=json.dumps(document([event], NOW)).encode()),
                                        metadata=creds.md("partner", d.ids[party], subject=subject), timeout=TIMEOUT)
            assert [o.status for o in answer.outcomes] == [ep.EPCIS_EVENT_STATUS_WRITTEN]
        http: EpcisHttpServer = build_epcis_http(server.server, 0)
        port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
        try:
            yield World(server, d, creds, server.head(), f"http://127.0.0.1:{port}")
        finally:
            asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)
    finally:
        server.stop()


def leaks(world: World, raw: bytes) -> list[str]:
    return [name for name, value in world.theirs().items() if value.encode() in raw]


def subscription(world: World, metadata: list[tuple[str, str]], **request: Any) -> list[ev.Event]:
    """SubscribeEvents from the start until caught up with the module's head."""
    stream = world.server.stubs().events.SubscribeEvents(
        ev.SubscribeEventsRequest(after_position=0, **request), metadata=metadata, timeout=TIMEOUT)
    events: list[ev.Event] = []
    for message in stream:
        if message.WhichOneof("content") == "checkpoint" and message.checkpoint.position >= world.head:
            break
        events += list(message.events.events)
    stream.cancel()
    return events


def report(world: World, metadata: list[tuple[str, str]], kind: int, fmt: int = rp.REPORT_FORMAT_JSON) -> bytes:
    reports = reports_pb2_grpc.ReportServiceStub(world.server.channel())
    return b"".join(m.chunk for m in reports.GenerateReport(
        rp.GenerateReportRequest(kind=kind, format=fmt), metadata=metadata, timeout=120)
        if m.WhichOneof("part") == "chunk")


def export(world: World, request: ep.ExportEpcisRequest, metadata: list[tuple[str, str]]) -> bytes:
    stub = epcis_pb2_grpc.EpcisServiceStub(world.server.channel())  # type: ignore[no-untyped-call]
    return b"".join(m.SerializeToString() for m in stub.ExportEpcis(request, metadata=metadata, timeout=TIMEOUT))


def test_partner_as_answers_from_every_read_rpc_carry_nothing_of_partner_b(world: World) -> None:
    api, ids, a, at = world.server.stubs(), world.d.ids, world.a, world.d.position
    journal = journal_pb2_grpc.JournalServiceStub(world.server.channel())  # type: ignore[no-untyped-call]
    deadline = time.monotonic() + 30
    while True:  # the checkpointer signs the log's head within a tenth of a second or so
        with contextlib.suppress(grpc.RpcError):
            checkpoint = journal.GetCheckpoint(jp.GetCheckpointRequest(), metadata=a, timeout=TIMEOUT)
            if checkpoint.tree_size >= world.head:
                break
        assert time.monotonic() < deadline, "no checkpoint of the head"
        time.sleep(0.1)
    own_finding = api.compliance.ListFindings(cp.ListFindingsRequest(min_position=at), metadata=a,
                                              timeout=TIMEOUT).findings[0].finding_id
    answers: dict[str, Callable[[], bytes]] = {
        "QueryService/GetBatch": lambda: api.queries.GetBatch(q.GetBatchRequest(batch_id=ids["a1"]), metadata=a),
        "QueryService/ListBatchEvents": lambda: api.queries.ListBatchEvents(
            q.ListBatchEventsRequest(batch_id=ids["a1"]), metadata=a),
        "QueryService/ListBatches": lambda: api.queries.ListBatches(q.ListBatchesRequest(min_position=at), metadata=a,
                                                                    timeout=TIMEOUT),
        "QueryService/GetOwnership": lambda: api.queries.GetOwnership(q.GetOwnershipRequest(min_position=at),
                                                                      metadata=a, timeout=TIMEOUT),
        "QueryService/GetSiteInventory": lambda: api.queries.GetSiteInventory(
            q.GetSiteInventoryRequest(min_position=at), metadata=a, timeout=TIMEOUT),
        "QueryService/GetCustodyTrail": lambda: api.queries.GetCustodyTrail(
            q.GetCustodyTrailRequest(batch_id=ids["a1"], min_position=at), metadata=a, timeout=TIMEOUT),
        "QueryService/GetProjectionStatus": lambda: api.queries.GetProjectionStatus(
            q.GetProjectionStatusRequest(), metadata=a),
        "QueryService/GetParty": lambda: api.queries.GetParty(q.GetPartyRequest(party_id=ids["samsung"]), metadata=a),
        "EventService/SubscribeEvents": lambda: b"".join(
            e.SerializeToString() for e in subscription(world, a, include_request_records=True)),
        "ComplianceService/GetBatchCompliance": lambda: api.compliance.GetBatchCompliance(
            cp.GetBatchComplianceRequest(batch_id=ids["a1"], min_position=at), metadata=a, timeout=TIMEOUT),
        "ComplianceService/ListFindings": lambda: api.compliance.ListFindings(
            cp.ListFindingsRequest(min_position=at), metadata=a, timeout=TIMEOUT),
        "ComplianceService/GetFinding": lambda: api.compliance.GetFinding(
            cp.GetFindingRequest(finding_id=own_finding), metadata=a, timeout=TIMEOUT),
        "ComplianceService/ListOverdueItems": lambda: api.compliance.ListOverdueItems(
            cp.ListOverdueItemsRequest(as_of=LATER, min_position=at), metadata=a, timeout=TIMEOUT),
        "ComplianceService/ClassifyModel": lambda: api.compliance.ClassifyModel(
            cp.ClassifyModelRequest(model_id=ids["b200"]), metadata=a),
        "ReportService/GenerateReport": lambda: b"".join(
            report(world, a, kind, fmt) for kind in (rp.REPORT_KIND_OWNERSHIP, rp.REPORT_KIND_CUSTODY,
                                                     rp.REPORT_KIND_COMPLIANCE)
            for fmt in (rp.REPORT_FORMAT_JSON, rp.REPORT_FORMAT_CSV)),
        "JournalService/GetCheckpoint": lambda: checkpoint,
        "JournalService/GetConsistencyProof": lambda: journal.GetConsistencyProof(
            jp.GetConsistencyProofRequest(first_size=1, second_size=checkpoint.tree_size), metadata=a),
        "JournalService/GetInclusionProof": lambda: journal.GetInclusionProof(
            jp.GetInclusionProofRequest(position=1, tree_size=checkpoint.tree_size), metadata=a),
        "EpcisService/ExportEpcis": lambda: b"".join(
            export(world, request, a) for request in (ep.ExportEpcisRequest(after_position=0),
                                                      ep.ExportEpcisRequest(partner_id=ids["samsung"]),
                                                      ep.ExportEpcisRequest(batch_id=ids["a1"]))),
    }
    # every read RPC a partner may call is swept (writes, and the cosignature, read nothing of others')
    partner_reads = {m.split(".")[-1] for m, rule in MATRIX.items()
                     if Role.PARTNER in rule.roles and "CommandService" not in m and "LocationService" not in m
                     and "Health" not in m and "Reflection" not in m
                     and m.split("/")[-1] not in ("CaptureEpcis", "AddCosignature")}
    assert partner_reads == set(answers)
    found: dict[str, list[str]] = {}
    for name, call in answers.items():
        answer = call()
        raw = answer if isinstance(answer, bytes) else answer.SerializeToString()
        assert raw, name
        found[name] = leaks(world, raw) + [f"A's hold {t}" for t in A_HOLD if t.encode() in raw]
    assert {k: v for k, v in found.items() if v} == {}
    # and they do carry A's own: the sweep would pass on empty answers otherwise
    own = answers["EpcisService/ExportEpcis"]()
    assert ids["a1"].encode() in own and A_EVENT.encode() in own
    # a site operator of A's reads only A's sites
    operator = world.md(Role.SITE_OPERATOR)
    sites = api.queries.GetSiteInventory(q.GetSiteInventoryRequest(min_position=at), metadata=operator, timeout=TIMEOUT)
    assert [s.site_id for s in sites.sites] == [ids["site_samsung"]]
    assert leaks(world, sites.SerializeToString()) == []
    # B's serial's location, B's party and B's batch are as missing as a made-up one
    locations = locations_pb2_grpc.LocationServiceStub(world.server.channel())  # type: ignore[no-untyped-call]
    for call in (lambda: locations.GetSerialLocation(lp.GetSerialLocationRequest(serial="SNb10"), metadata=a),
                 lambda: api.queries.GetParty(q.GetPartyRequest(party_id=ids["sk"]), metadata=a),
                 lambda: api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(batch_id=ids["b1"]),
                                                           metadata=a)):
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        assert leaks(world, (refused.value.details() or "").encode()) in ([], ["b1"], ["sk"])


def _hold_texts(raw: bytes) -> list[str]:
    return [t for t in (*A_HOLD, *B_HOLD) if t.encode() in raw]


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_legal_holds_are_seen_only_by_the_hold_readers_on_every_path(world: World, role: Role) -> None:
    api, ids, md = world.server.stubs(), world.d.ids, world.md(role)
    reads = role in HOLD_READERS

    def allowed(method: str) -> bool:
        return role in MATRIX[method].roles

    if allowed("registry.api.v1.ComplianceService/GetBatchCompliance"):
        answer = api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(
            batch_id=ids["a1"], min_position=world.d.position), metadata=md, timeout=TIMEOUT)
        assert bool(answer.legal_holds) is reads
        assert [e.held for e in answer.exports] == [reads]
        assert not any(e.HasField("destruction_allowed_from") for e in answer.exports)  # held, or not said
        assert bool(_hold_texts(answer.SerializeToString())) is reads
        if reads:
            assert [(h.agency, h.reference, h.reason, h.active) for h in answer.legal_holds] == [(*A_HOLD, True)]
        # an unheld batch's destruction date is not shown to those who may not see holds either
        unheld = api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(
            batch_id=ids["a2"], min_position=world.d.position), metadata=md, timeout=TIMEOUT)
        assert all(e.HasField("destruction_allowed_from") is reads for e in unheld.exports)
    if allowed("registry.api.v1.EventService/SubscribeEvents"):
        events = subscription(world, md, include_request_records=True)
        holds = [e for e in events if e.type.startswith("LegalHold.")]
        assert bool(holds) is reads
        assert bool(_hold_texts(b"".join(e.SerializeToString() for e in events))) is reads
    journal = journal_pb2_grpc.JournalServiceStub(world.server.channel())  # type: ignore[no-untyped-call]
    if reads:
        exported = b"".join(m.SerializeToString() for m in journal.ExportJournal(
            jp.ExportJournalRequest(), metadata=md, timeout=TIMEOUT))
        assert _hold_texts(exported)
    else:
        with pytest.raises(grpc.RpcError) as refused:
            list(journal.ExportJournal(jp.ExportJournalRequest(), metadata=md, timeout=TIMEOUT))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    if allowed("registry.api.v1.ReportService/GenerateReport"):
        for fmt in (rp.REPORT_FORMAT_JSON, rp.REPORT_FORMAT_HTML):
            body = report(world, md, rp.REPORT_KIND_COMPLIANCE, fmt)
            assert bool(_hold_texts(body)) is reads, rp.ReportFormat.Name(fmt)
    if allowed("registry.api.v1.EpcisService/ExportEpcis"):  # a hold is no EPCIS event for anyone
        assert _hold_texts(export(world, ep.ExportEpcisRequest(after_position=0), md)) == []


def test_request_records_and_their_captured_text_reach_staff_and_overseers_never_a_partner(world: World) -> None:
    partner = subscription(world, world.a, include_request_records=True)
    assert partner and not [e for e in partner if e.type == "RequestRecord.Handled"]
    named = subscription(world, world.a, event_types=["RequestRecord.Handled"])
    assert named == []
    for role in (Role.ADMIN, Role.COMPLIANCE_OFFICER, Role.LOGISTICS, Role.AUDITOR, Role.REGULATOR):
        records = [e for e in subscription(world, world.md(role), include_request_records=True)
                   if e.type == "RequestRecord.Handled"]
        captured = {json.loads(e.payload_json).get("captured", "") for e in records}
        assert any(A_EVENT in c for c in captured) and any(B_EVENT in c for c in captured), role
    # partner A's own installation is in its stream, as an event of its batch
    assert any(e.aggregate_id == world.d.ids["a1"] and e.actor == "samsung-ops" for e in partner)


def _pages(list_page: Callable[[str], Any], rows: str) -> tuple[list[str], list[str]]:
    """Every row of a listing one at a time (page_size 1), and the page tokens it was handed."""
    ids: list[str] = []
    tokens: list[str] = []
    token = ""
    while True:
        page = list_page(token)
        ids += [getattr(r, "finding_id", "") or getattr(r, "batch_id", "") for r in getattr(page, rows)]
        token = page.next_page_token
        if not token:
            return ids, tokens
        tokens.append(token)
        assert len(tokens) < 200


def test_a_partners_page_tokens_carry_nothing_of_another_partner_and_pages_miss_and_repeat_nothing(
    world: World,
) -> None:
    """A partner's page is filtered after the query, so a page may end on another partner's row:
    the token says where by position and count, never by that row's id."""
    api, at = world.server.stubs(), world.d.position
    for md, who in ((world.a, "partner A"), (world.md(Role.REGULATOR), "regulator")):
        def findings(token: str, md: list[tuple[str, str]] = md) -> Any:
            return api.compliance.ListFindings(cp.ListFindingsRequest(min_position=at, page_size=1, page_token=token),
                                               metadata=md, timeout=TIMEOUT)

        def batches(token: str, md: list[tuple[str, str]] = md) -> Any:
            return api.queries.ListBatches(q.ListBatchesRequest(min_position=at, page_size=1, page_token=token),
                                           metadata=md, timeout=TIMEOUT)

        for list_page, rows, whole in (
            (findings, "findings", api.compliance.ListFindings(cp.ListFindingsRequest(min_position=at), metadata=md,
                                                               timeout=TIMEOUT).findings),
            (batches, "batches", api.queries.ListBatches(q.ListBatchesRequest(min_position=at), metadata=md,
                                                         timeout=TIMEOUT).batches),
        ):
            ids, tokens = _pages(list_page, rows)
            expected = [getattr(r, "finding_id", "") or getattr(r, "batch_id", "") for r in whole]
            assert [i for i in ids if i] == expected, (who, rows)
            assert len(expected) > 1, (who, rows)
            if who == "partner A":
                decoded = b"".join(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)) for t in tokens)
                assert leaks(world, decoded) == [], rows
                everything = api.compliance.ListFindings(cp.ListFindingsRequest(min_position=at),
                                                         metadata=world.md(Role.REGULATOR), timeout=TIMEOUT)
                theirs = [f.finding_id for f in everything.findings if f.batch_id == world.d.ids["b1"]]
                assert theirs and not [f for f in theirs if f.encode() in decoded], rows


def test_partner_as_epcis_rest_answers_carry_nothing_of_partner_b(world: World) -> None:
    """The REST binding's queries as partner A: the whole log, by partner, by batch, the resource
    paths, a named query's events; B's eventID is 404 exactly like a made-up one."""
    token = world.creds.token("partner", world.d.ids["samsung"], subject="samsung-ops")
    a = {"Authorization": f"Bearer {token}"}
    ids = world.d.ids
    paths = ["/events?perPage=1000", f"/events?partnerID={ids['samsung']}", f"/events?batchID={ids['a1']}",
             f"/events?partnerID={ids['sk']}", "/eventTypes", "/eventTypes/ObjectEvent/events?perPage=1000",
             "/bizSteps/installing/events", "/epcs/" + quote(v.gpu_uri("SNb10"), safe="") + "/events",
             "/events?perPage=1"]
    with httpx.Client(base_url=world.rest, timeout=60) as client:
        bodies = {}
        for path in paths:
            answer = client.get(path, headers=a)
            assert answer.status_code == 200, (path, answer.text)
            bodies[path] = (answer.text + json.dumps(dict(answer.headers))).encode()
        made = client.post("/queries", json={"name": "mine", "query": {"EQ_bizStep": ["installing"]}}, headers=a)
        assert made.status_code == 201, made.text
        named = client.get("/queries/mine/events", headers=a)
        bodies["/queries/mine/events"] = named.text.encode()
        assert A_EVENT in named.text
        assert {p: leaks(world, b) for p, b in bodies.items() if leaks(world, b)} == {}
        assert A_EVENT.encode() in bodies["/events?perPage=1000"]
        theirs = client.get("/events/" + quote(B_EVENT, safe=""), headers=a)
        missing_id = f"urn:uuid:{uuid.uuid4()}"
        missing = client.get("/events/" + quote(missing_id, safe=""), headers=a)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.text.replace(B_EVENT, "<id>") == missing.text.replace(missing_id, "<id>")


def _shared_batch(world: World) -> tuple[str, str]:
    """A batch Samsung buys for NAVER Cloud (consignee and end user): both partners see it. Returns
    the batch id and NAVER's party id."""
    d, ts = world.d, Timestamp
    when = [ts() for _ in range(6)]
    for i, t in enumerate(when):
        t.FromDatetime(NOW.replace(month=3, day=2 + 2 * i))
    naver = d.do("RegisterParty", c.RegisterPartyRequest(request_id=str(uuid.uuid4()), name="NAVER Cloud",
                                                         country="KR", roles=["consignee", "end_user"],
                                                         headquarters_country="KR")).aggregate_id
    license_id = d.do("RegisterAuthorization", c.RegisterAuthorizationRequest(
        request_id=str(uuid.uuid4()), auth_type=c.AUTHORIZATION_TYPE_LICENSE, number="D7654321", eccns=["3A090"],
        destination_countries=["KR"], consignee_ids=[naver], end_user_ids=[naver], valid_from=when[0])).aggregate_id
    batch = d.do("PlaceOrder", c.PlaceOrderRequest(request_id=str(uuid.uuid4()), po_number="PO-shared",
        supplier_id=d.ids["nvidia"], buyer_id=d.ids["samsung"], model_id=d.ids["b200"], quantity=2,
        unit_price="30000", currency="USD", occurred_at=when[0])).aggregate_id
    d.do("RequestClearance", c.RequestClearanceRequest(request_id=str(uuid.uuid4()), batch_id=batch,
        authorization_id=license_id, eccn="3A090.a", destination_country="KR", consignee_id=naver,
        end_user_id=naver, quantity=2, end_use="AI inference", occurred_at=when[1]))
    d.do("GrantClearance", c.GrantClearanceRequest(request_id=str(uuid.uuid4()), batch_id=batch,
                                                   authorization_id=license_id, occurred_at=when[2]))
    serials = ["SNsh0", "SNsh1"]
    d.do("RegisterSerials", c.RegisterSerialsRequest(request_id=str(uuid.uuid4()), batch_id=batch,
        units=[c.UnitIdentity(serial=s) for s in serials], occurred_at=when[3]))
    d.do("Ship", c.ShipRequest(request_id=str(uuid.uuid4()), batch_id=batch, shipment_id="S-shared",
        destination_country="KR", destination_site_id=d.ids["site_samsung"], serials=serials, occurred_at=when[4]))
    d.do("Receive", c.ReceiveRequest(request_id=str(uuid.uuid4()), batch_id=batch, shipment_id="S-shared",
        receiving_party_id=d.ids["samsung"], site_id=d.ids["site_samsung"], serials=serials, occurred_at=when[5]))
    d.do("Install", c.InstallRequest(request_id=str(uuid.uuid4()), batch_id=batch, site_id=d.ids["site_samsung"],
                                     rack="R1", host="H1", serials=serials[:1], occurred_at=when[5]))
    return batch, naver


def test_a_co_partys_export_shows_an_event_another_party_captured_as_the_registry_records_it(world: World) -> None:
    """Samsung and NAVER Cloud share a batch; Samsung captures an installation of it. Samsung (its
    sender) and the overseers get it as captured, NAVER as the registry records it, under the same
    eventID: the text another party sent is not shown to it (gRPC and the REST binding alike)."""
    batch, naver = _shared_batch(world)
    event = install_event(world.server, batch, "SNsh1")
    event_id = event["eventID"] = f"urn:uuid:{uuid.uuid4()}"
    epcis = epcis_pb2_grpc.EpcisServiceStub(world.server.channel())  # type: ignore[no-untyped-call]
    answer = epcis.CaptureEpcis(ep.CaptureEpcisRequest(document=json.dumps(document([event], NOW)).encode()),
                                metadata=world.a, timeout=TIMEOUT)
    assert [o.status for o in answer.outcomes] == [ep.EPCIS_EVENT_STATUS_WRITTEN]
    registry_event = v.ext("registryEvent")

    def exported(md: list[tuple[str, str]]) -> dict[str, Any]:
        stub = epcis_pb2_grpc.EpcisServiceStub(world.server.channel())  # type: ignore[no-untyped-call]
        for request in (ep.ExportEpcisRequest(batch_id=batch), ep.ExportEpcisRequest(after_position=0)):
            body = b"".join(m.chunk for m in stub.ExportEpcis(request, metadata=md, timeout=TIMEOUT))
            [found] = [e for e in json.loads(body)["epcisBody"]["eventList"] if e["eventID"] == event_id]
        return found

    naver_md = world.creds.md("partner", naver, subject="naver-ops")
    as_naver = exported(naver_md)
    assert registry_event in as_naver and as_naver["eventID"] == event_id
    for md in (world.a, world.md(Role.REGULATOR), world.md(Role.LOGISTICS)):
        assert registry_event not in exported(md)  # as captured
    with httpx.Client(base_url=world.rest, timeout=60) as client:
        token = world.creds.token("partner", naver, subject="naver-ops")
        answer_ = client.get("/events/" + quote(event_id, safe=""), headers={"Authorization": f"Bearer {token}"})
        assert answer_.status_code == 200, answer_.text
        [rest] = answer_.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert registry_event in rest


def test_no_token_or_signature_token_is_ever_logged(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Calls with good, tampered and garbage bearer tokens (allowed, refused, NOT_FOUND), and webhook
    subscriptions with a signatureToken (taken, refused): the access log (stderr), the denial log
    and every other log record name no token, only a token's jti."""
    api, ids = world.server.stubs(), world.d.ids
    good = world.creds.token("partner", ids["samsung"], subject="samsung-ops")
    tampered = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    garbage = "garbage-token-" + uuid.uuid4().hex
    secret = "signature-" + uuid.uuid4().hex
    caplog.set_level(logging.DEBUG)
    for token in (good, tampered, garbage):
        md = [("authorization", f"Bearer {token}")]
        for call in (lambda md=md: api.queries.GetBatch(q.GetBatchRequest(batch_id=ids["a1"]), metadata=md),
                     lambda md=md: api.queries.GetBatch(q.GetBatchRequest(batch_id=ids["b1"]), metadata=md),
                     lambda md=md: api.commands.SetAllocation(c.SetAllocationRequest(), metadata=md)):
            with contextlib.suppress(grpc.RpcError):
                call()
    with httpx.Client(base_url=world.rest, timeout=60) as client:
        a = {"Authorization": f"Bearer {good}"}
        assert client.post("/queries", json={"name": "logged", "query": {}}, headers=a).status_code == 201
        taken = client.post("/queries/logged/subscriptions", headers=a,
                            json={"dest": "https://hook.example/cb", "signatureToken": secret, "stream": True})
        assert taken.status_code == 201, taken.text
        refused = client.post("/queries/logged/subscriptions", headers=a,
                              json={"dest": "ftp://nowhere", "signatureToken": secret, "stream": True})
        assert refused.status_code == 400 and secret not in refused.text
        for token in (tampered, garbage):
            assert client.get("/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    written = capsys.readouterr()
    logged = written.out + written.err + caplog.text
    assert '"method"' in written.err and "access denied" in caplog.text  # the logs were written
    assert [name for name, value in (("token", good), ("tampered token", tampered), ("garbage token", garbage),
                                     ("signatureToken", secret)) if value in logged] == []
