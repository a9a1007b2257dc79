"""EPCIS shares identity and authorization with gRPC: a real server requiring bearer tokens, its
EPCIS REST binding on a real uvicorn server (port 0), called with grpc and httpx.

Two competing partners (Samsung with a subsidiary, and SK) each hold batches (the deal of
test_partner_isolation). A partner's export never carries another partner's batch (NOT_FOUND
like a missing one, or simply absent from a log export); each captured event is authorized as
the registry command it becomes, refused per event with nothing written; over HTTP a missing,
expired or wrongly signed token is 401, and the actor recorded is the token's subject."""

from __future__ import annotations

import asyncio
import copy
import json
import ssl
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import grpc
import httpx
import pytest

from registry.api.v1 import epcis_pb2 as pb
from registry.api.v1 import epcis_pb2_grpc
from registry.bootstrap import build_epcis_http
from registry.epcis import vocabulary as v
from registry.epcis.export import Event, document
from registry.epcis.http import EpcisHttpServer
from registry.epcis.sources import batch_events
from registry.security.tokens import generate_key, issue_token
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials, Pki
from tests.e2e.test_partner_isolation import Deal, build_deal

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def world(
    start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path
) -> Iterator[tuple[RunningServer, Deal, Credentials, str]]:
    """On SQLite and on PostgreSQL."""
    creds = Credentials.create(tmp_path)
    server = start_server(store_url, **creds.settings())
    deal = build_deal(server.stubs(), creds.md("admin", subject="registry-admin"))
    http: EpcisHttpServer = build_epcis_http(server.server, 0)
    port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
    yield server, deal, creds, f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def export(server: RunningServer, request: pb.ExportEpcisRequest, metadata: list[tuple[str, str]]) -> str:
    stub = epcis_pb2_grpc.EpcisServiceStub(server.channel())  # type: ignore[no-untyped-call]
    return b"".join(m.chunk for m in stub.ExportEpcis(request, metadata=metadata, timeout=60)).decode()


def install_event(server: RunningServer, batch: str, serial: str) -> Event:
    """A new installation of ``serial`` (received, not yet installed), shaped like the batch's
    exported installation."""
    installed = next(e for e in batch_events(server.registry, UUID(batch)) if e.get("bizStep") == "installing")
    event = copy.deepcopy(installed)
    for key in ("eventID", v.ext("registryEvent")):
        event.pop(key, None)
    event["epcList"] = [v.gpu_uri(serial)]
    event["eventTime"] = "2026-03-20T09:00:00.000Z"
    event[v.ext("rack")], event[v.ext("host")] = "R2", "H7"
    return event


def test_a_partners_grpc_export_of_another_partners_batch_is_not_found_and_its_log_export_carries_only_its_batches(
    world: tuple[RunningServer, Deal, Credentials, str],
) -> None:
    server, d, creds, _ = world
    samsung = creds.md("partner", d.ids["samsung"], subject="samsung-ops")
    missing = str(uuid.uuid4())
    refusals = []
    for batch in (d.ids["b1"], missing):
        with pytest.raises(grpc.RpcError) as refused:
            export(server, pb.ExportEpcisRequest(batch_id=batch), samsung)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        refusals.append((refused.value.details() or "").replace(batch, "<id>"))
    assert refusals[0] == refusals[1]
    own = json.loads(export(server, pb.ExportEpcisRequest(batch_id=d.ids["a2"]), samsung))  # its subsidiary's
    assert own["epcisBody"]["eventList"]
    whole = export(server, pb.ExportEpcisRequest(after_position=0), samsung)
    theirs = export(server, pb.ExportEpcisRequest(partner_id=d.ids["sk"]), samsung)
    assert d.ids["a1"] in whole and d.ids["a2"] in whole
    assert d.ids["b1"] not in whole and d.ids["b1"] not in theirs
    assert json.loads(theirs)["epcisBody"]["eventList"] == []
    # the regulator exports everything
    everything = export(server, pb.ExportEpcisRequest(after_position=0), creds.md("regulator"))
    assert d.ids["b1"] in everything


def test_each_captured_event_is_authorized_as_its_command_and_a_refused_document_writes_nothing(
    world: tuple[RunningServer, Deal, Credentials, str],
) -> None:
    server, d, creds, _ = world
    stub = epcis_pb2_grpc.EpcisServiceStub(server.channel())  # type: ignore[no-untyped-call]
    samsung = creds.md("partner", d.ids["samsung"], subject="samsung-dc")
    ours, theirs = install_event(server, d.ids["a1"], "SNa12"), install_event(server, d.ids["b1"], "SNb12")
    before = {b: len(server.registry.history(UUID(d.ids[b]))) for b in ("a1", "b1")}

    with pytest.raises(grpc.RpcError) as refused:
        stub.CaptureEpcis(pb.CaptureEpcisRequest(
            document=json.dumps(document([ours, theirs], NOW)).encode()), metadata=samsung, timeout=60)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "eventList[1].gpureg:batchID" in (refused.value.details() or "")
    assert f"rule reference-exists: batch {d.ids['b1']} not found" in (refused.value.details() or "")
    assert {b: len(server.registry.history(UUID(d.ids[b]))) for b in ("a1", "b1")} == before

    # per-event mode: its own event is written, the other partner's is refused
    answer = stub.CaptureEpcis(pb.CaptureEpcisRequest(
        document=json.dumps(document([ours, theirs], NOW)).encode(), per_event=True), metadata=samsung, timeout=60)
    assert [o.status for o in answer.outcomes] == [pb.EPCIS_EVENT_STATUS_WRITTEN, pb.EPCIS_EVENT_STATUS_REFUSED]
    assert len(server.registry.history(UUID(d.ids["b1"]))) == before["b1"]
    assert server.registry.history(UUID(d.ids["a1"]))[-1].actor == "samsung-dc"

    # a role the matrix does not allow the command: logistics may not install, a partner may not ship
    shipped = next(e for e in batch_events(server.registry, UUID(d.ids["a1"])) if e.get("bizStep") == "shipping")
    for who, event, command in ((creds.md("logistics"), install_event(server, d.ids["a1"], "SNa13"), "Install"),
                                (samsung, shipped, "Ship")):
        answer = stub.CaptureEpcis(pb.CaptureEpcisRequest(
            document=json.dumps(document([event], NOW)).encode(), per_event=True), metadata=who, timeout=60)
        assert answer.outcomes[0].status == pb.EPCIS_EVENT_STATUS_REFUSED
        assert answer.outcomes[0].field == command and "rule access-matrix" in answer.outcomes[0].rule
    # a site operator installs only at its own sites (a2's unit SNa22 was received at Samsung's site)
    at_samsung = install_event(server, d.ids["a2"], "SNa22")
    sk_operator, samsung_operator = (creds.md("site_operator", d.ids[p], subject=f"dc-{p}") for p in ("sk", "samsung"))
    answer = stub.CaptureEpcis(pb.CaptureEpcisRequest(
        document=json.dumps(document([at_samsung], NOW)).encode(), per_event=True), metadata=sk_operator, timeout=60)
    assert answer.outcomes[0].status == pb.EPCIS_EVENT_STATUS_REFUSED
    assert answer.outcomes[0].field == "bizLocation.id" and "not found" in answer.outcomes[0].rule
    answer = stub.CaptureEpcis(pb.CaptureEpcisRequest(
        document=json.dumps(document([at_samsung], NOW)).encode()), metadata=samsung_operator, timeout=60)
    assert answer.accepted and server.registry.history(UUID(d.ids["a2"]))[-1].actor == "dc-samsung"
    # an auditor may not capture at all
    with pytest.raises(grpc.RpcError) as denied:
        stub.CaptureEpcis(pb.CaptureEpcisRequest(document=b"{}"), metadata=creds.md("auditor"), timeout=60)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_over_http_a_missing_expired_or_wrongly_signed_token_is_401_and_a_partner_is_confined(
    world: tuple[RunningServer, Deal, Credentials, str], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    server, d, creds, base = world
    expired = creds.token("partner", d.ids["samsung"], ttl=timedelta(seconds=1),
                          now=datetime.now(UTC) - timedelta(hours=1))
    generate_key(tmp_path / "elsewhere", "k1")  # same key id, another key
    forged, _ = issue_token(tmp_path / "elsewhere" / "k1.key.pem", subject="mallory", role="admin")
    denials = sum(server.server.auth.denials.values())  # type: ignore[union-attr]
    with httpx.Client(base_url=base, timeout=60) as client:
        for headers in ({}, {"x-gpureg-actor": "registry-admin"}, {"Authorization": f"Bearer {expired}"},
                        {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
            for answer in (client.get("/events", headers=headers),
                           client.post("/capture", json=document([], NOW), headers=headers)):
                assert answer.status_code == 401, (headers, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert answer.json()["status"] == 401 and answer.json()["reason"] in ("NO_CREDENTIAL", "BAD_CREDENTIAL")
        assert sum(server.server.auth.denials.values()) == denials + 10  # type: ignore[union-attr]
        assert expired not in caplog.text and forged not in caplog.text
        assert "method=/registry.api.v1.EpcisService/ExportEpcis" in caplog.text

        auditor = {"Authorization": f"Bearer {creds.token('auditor')}"}
        assert client.get("/events", headers=auditor).status_code == 200
        forbidden = client.post("/capture", json=document([], NOW), headers=auditor)
        assert forbidden.status_code == 403 and forbidden.json()["reason"] == "ROLE_NOT_ALLOWED"

        samsung = {"Authorization": f"Bearer {creds.token('partner', d.ids['samsung'], subject='samsung-wms')}"}
        missing = str(uuid.uuid4())
        theirs, absent = (client.get("/events", params={"batchID": b}, headers=samsung) for b in (d.ids["b1"], missing))
        assert theirs.status_code == absent.status_code == 404
        assert theirs.text.replace(d.ids["b1"], "<id>") == absent.text.replace(missing, "<id>")
        whole = client.get("/events", params={"perPage": "1000"}, headers=samsung).text
        assert d.ids["a1"] in whole and d.ids["b1"] not in whole
        assert d.ids["b1"] not in client.get("/events", params={"partnerID": d.ids["sk"]}, headers=samsung).text

        # capture: another partner's batch refused per event, nothing written; its own under its token
        before = len(server.registry.history(UUID(d.ids["b1"])))
        doc = document([install_event(server, d.ids["a1"], "SNa12"), install_event(server, d.ids["b1"], "SNb12")], NOW)
        job = client.post("/capture", json=doc, headers=samsung | {"x-gpureg-actor": "someone-else"}).json()
        assert not job["success"]
        assert [(e["index"], e["field"]) for e in job["errors"]] == [(1, "gpureg:batchID")]
        assert len(server.registry.history(UUID(d.ids["b1"]))) == before
        job = client.post("/capture", json=document(doc["epcisBody"]["eventList"][:1], NOW),
                          headers=samsung | {"x-gpureg-actor": "someone-else"}).json()
        assert job["success"], job
        assert server.registry.history(UUID(d.ids["a1"]))[-1].actor == "samsung-wms"
        # a capture job is its capturer's: another partner's request for it is as for a missing one
        sk = {"Authorization": f"Bearer {creds.token('partner', d.ids['sk'])}"}
        assert client.get(f"/capture/{job['captureID']}", headers=sk).status_code == 404
        assert client.get("/capture", headers=sk).json() == []
        assert client.get(f"/capture/{job['captureID']}", headers=samsung).json()["success"]


def test_with_tls_the_rest_binding_serves_https_with_the_servers_certificate_and_takes_bearer_tokens(
    start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    pki = Pki.create(tmp_path / "pki")
    creds = Credentials.create(tmp_path)
    server = start_server(sqlite_url, **pki.settings(), **creds.settings())
    http = build_epcis_http(server.server, 0)
    port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
    try:
        trust = ssl.create_default_context(cafile=str(tmp_path / "pki" / "ca.pem"))
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trust, timeout=60) as client:
            assert client.get("/events").status_code == 401
            answer = client.get("/events", headers={"Authorization": f"Bearer {creds.token('regulator')}"})
            assert answer.status_code == 200 and answer.json()["type"] == "EPCISQueryDocument"
        with pytest.raises(httpx.ConnectError), httpx.Client(timeout=10) as plain:
            plain.get(f"https://127.0.0.1:{port}/events")  # the system's CAs do not know the registry CA
    finally:
        asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def test_gpureg_serve_refuses_an_https_rest_binding_that_could_authenticate_nobody(tmp_path: Path) -> None:
    import subprocess
    import sys

    pki = Pki.create(tmp_path / "pki")  # mutual TLS only: certificates are gRPC's, HTTP takes tokens
    options = [f"--{name.replace('_', '-')}={value}" for name, value in pki.settings().items()]
    gpureg = str(Path(sys.executable).with_name("gpureg"))
    done = subprocess.run([gpureg, "serve", "--listen", "127.0.0.1:0", "--epcis-port", "0", *options,
                           "--database-url", f"sqlite:///{tmp_path}/r.db"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "bearer token" in done.stderr and "--token-keys" in done.stderr
