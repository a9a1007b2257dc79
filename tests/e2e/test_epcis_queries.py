"""The EPCIS 2.0 REST query interface's named queries (``/queries``) and webhook subscriptions on
a real uvicorn server beside a real gRPC server, with bearer tokens: admitted by the same matrix
row as ``GET /events`` (``ExportEpcis``) and confined the same way (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import pytest

from registry.bootstrap import build_epcis_http
from registry.epcis.http import EpcisHttpServer
from registry.epcis.sources import batch_events
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials
from tests.e2e.test_epcis_access import install_event
from tests.e2e.test_epcis_http import _listed
from tests.e2e.test_partner_isolation import Deal, build_deal
from tests.epcis_support.gs1 import schema_errors

Dealt = tuple[RunningServer, Deal, Credentials, str]
SHIPPING = {"name": "shipments", "query": {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]}}


@pytest.fixture
def deal(start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path) -> Iterator[Dealt]:
    """Two competing partners' batches behind bearer tokens and the REST binding (SQLite and
    PostgreSQL), as tests/e2e/test_epcis_http.py's."""
    creds = Credentials.create(tmp_path)
    server = start_server(store_url, **creds.settings())
    d = build_deal(server.stubs(), creds.md("admin", subject="registry-admin"))
    http: EpcisHttpServer = build_epcis_http(server.server, 0)
    port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
    yield server, d, creds, f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def _bearer(creds: Credentials, role: str, party: str | None = None, subject: str | None = None) -> dict[str, str]:
    token = creds.token(role, party, subject=subject) if party else creds.token(role, subject=subject)
    return {"Authorization": f"Bearer {token}"}


def test_a_named_query_is_created_listed_read_run_and_deleted_as_the_openapi_says(deal: Dealt) -> None:
    _, _, creds, base = deal
    auditor = _bearer(creds, "auditor", subject="auditor-1")
    with httpx.Client(base_url=base, timeout=60) as client:
        created = client.post("/queries", json=SHIPPING, headers=auditor)
        assert created.status_code == 201, created.text
        assert created.headers["Location"] == "/queries/shipments"
        assert created.json() == SHIPPING
        assert client.get("/queries", headers=auditor).json() == [SHIPPING]
        assert client.get("/queries/shipments", headers=auditor).json() == SHIPPING

        answer = client.get("/queries/shipments/events", headers=auditor)
        events = _listed(answer)
        assert answer.json()["epcisBody"]["queryResults"]["queryName"] == "shipments"
        direct = _listed(client.get("/events", params={"eventType": "ObjectEvent", "EQ_bizStep": "shipping"},
                                    headers=auditor))
        assert events == direct and len(events) == 3  # a1, a2, b1 each shipped once
        first = client.get("/queries/shipments/events", params={"perPage": "1"}, headers=auditor)
        assert len(_listed(first)) == 1 and 'rel="next"' in first.headers["Link"]

        again = client.post("/queries", json=SHIPPING, headers=auditor)
        assert again.status_code == 409 and again.json()["type"] == "epcisException:ResourceAlreadyExistsException"
        bad = client.post("/queries", json={"name": "bad", "query": {"EQ_colour": ["red"]}}, headers=auditor)
        assert bad.status_code == 400 and bad.json()["type"] == "epcisException:QueryParameterException"
        assert bad.json()["violations"][0]["field"] == "query.EQ_colour"
        no_name = client.post("/queries", json={"query": {}}, headers=auditor)
        assert no_name.status_code == 400 and no_name.json()["violations"][0]["field"] == "name"
        extra = client.get("/queries/shipments/events", params={"EQ_bizStep": "receiving"}, headers=auditor)
        assert extra.status_code == 400 and extra.json()["violations"][0]["field"] == "EQ_bizStep"

        assert client.delete("/queries/shipments", headers=auditor).status_code == 204
        gone = client.get("/queries/shipments", headers=auditor)
        assert gone.status_code == 404 and gone.json()["type"] == "epcisException:NoSuchNameException"
        assert client.get("/queries/shipments/events", headers=auditor).status_code == 404
        assert client.delete("/queries/shipments", headers=auditor).status_code == 404
        assert client.get("/queries", headers=auditor).json() == []


def test_a_partners_named_query_sees_only_its_batches_and_its_queries_are_its_own(deal: Dealt) -> None:
    server, d, creds, base = deal
    samsung = _bearer(creds, "partner", d.ids["samsung"], subject="samsung-wms")
    sk = _bearer(creds, "partner", d.ids["sk"], subject="sk-wms")
    regulator = _bearer(creds, "regulator", subject="regulator-1")
    theirs = {e["eventID"] for e in batch_events(server.registry, UUID(d.ids["b1"]))}
    ours = {e["eventID"] for e in batch_events(server.registry, UUID(d.ids["a1"]))}
    everything = {"name": "all", "query": {}}
    with httpx.Client(base_url=base, timeout=60) as client:
        for who in (samsung, sk, regulator):  # one name, three principals' own queries
            assert client.post("/queries", json=everything, headers=who).status_code == 201
        seen = {e["eventID"] for e in _listed(client.get("/queries/all/events", params={"perPage": "1000"},
                                                         headers=samsung))}
        assert ours <= seen and not theirs & seen
        assert theirs <= {e["eventID"] for e in _listed(client.get("/queries/all/events",
                                                                   params={"perPage": "1000"}, headers=regulator))}

        assert client.post("/queries", json={"name": "mine", "query": {"EQ_bizStep": ["receiving"]}},
                           headers=samsung).status_code == 201
        hidden = client.get("/queries/mine", headers=sk)
        missing = client.get("/queries/never", headers=sk)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.text.replace("mine", "<q>") == missing.text.replace("never", "<q>")
        assert client.delete("/queries/mine", headers=sk).status_code == 404
        assert [q["name"] for q in client.get("/queries", headers=sk).json()] == ["all"]
        assert client.get("/queries/mine", headers=samsung).status_code == 200

        their_batch = {"name": "spy", "query": {"batchID": d.ids["b1"]}}
        refused = client.post("/queries", json=their_batch, headers=samsung)
        assert refused.status_code == 404 and refused.json()["type"] == "epcisException:NoSuchNameException"
        other = client.post("/queries", json={"name": "sk", "query": {"partnerID": d.ids["sk"]}}, headers=samsung)
        assert other.status_code == 201
        assert _listed(client.get("/queries/sk/events", headers=samsung)) == []

        for method, route in [("GET", "/queries"), ("POST", "/queries"), ("GET", "/queries/all"),
                              ("GET", "/queries/all/events"), ("DELETE", "/queries/all"),
                              ("POST", "/queries/all/subscriptions"), ("GET", "/queries/all/subscriptions")]:
            answer = client.request(method, route, json=everything if method == "POST" else None)
            assert answer.status_code == 401, (method, route)
            assert answer.json()["type"] == "epcisException:SecurityException"


class _Hook:
    """A webhook receiver on loopback: every accepted POST's headers and JSON body (``status``:
    what it answers; a POST answered otherwise is counted in ``refused``)."""

    def __init__(self) -> None:
        received: list[tuple[dict[str, str], bytes]] = []
        self.received = received
        self.status = 200
        self.refused = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = hook.status
                if status == 200:
                    received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                else:
                    hook.refused += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def documents(self, timeout: float = 20, count: int = 1) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.received)

    def delivered(self) -> list[str]:
        """The eventIDs of every accepted document, in order."""
        return [e["eventID"] for _, body in self.received
                for e in json.loads(body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[_Hook]:
    receiver = _Hook()
    yield receiver
    receiver.close()


def test_a_stream_subscription_posts_each_new_matching_event_of_the_subscribers_batches_signed(
    deal: Dealt, hook: _Hook
) -> None:
    server, d, creds, base = deal
    samsung = _bearer(creds, "partner", d.ids["samsung"], subject="samsung-wms")
    admin = _bearer(creds, "admin", subject="registry-admin")
    installs = {"name": "installs", "query": {"EQ_bizStep": ["installing"]}}
    secret = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.post("/queries", json=installs, headers=samsung).status_code == 201
        made = client.post("/queries/installs/subscriptions",
                           json={"dest": hook.url, "signatureToken": secret, "stream": True}, headers=samsung)
        assert made.status_code == 201, made.text
        subscription = made.json()
        assert subscription["dest"] == hook.url and subscription["stream"] is True
        assert "signatureToken" not in subscription and secret not in made.text
        assert made.headers["Location"] == f"/queries/installs/subscriptions/{subscription['subscriptionID']}"
        listed = client.get("/queries/installs/subscriptions", headers=samsung).json()
        assert [s["subscriptionID"] for s in listed] == [subscription["subscriptionID"]]

        # another partner's new installation first, then ours: only ours reaches the hook
        theirs = client.post("/events", json=install_event(server, d.ids["b1"], "SNb12"), headers=admin)
        assert theirs.status_code == 201, theirs.text
        ours = client.post("/events", json=install_event(server, d.ids["a1"], "SNa12"), headers=samsung)
        assert ours.status_code == 201, ours.text

        [(headers, body)] = hook.documents()
        document = json.loads(body)
        assert schema_errors(document) == []
        results = document["epcisBody"]["queryResults"]
        assert (results["queryName"], results["subscriptionID"]) == ("installs", subscription["subscriptionID"])
        assert [e["eventID"] for e in results["resultsBody"]["eventList"]] == [ours.json()["eventID"]]
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["gs1-signature"] == f"sha256={expected}"

        path = f"/queries/installs/subscriptions/{quote(subscription['subscriptionID'])}"
        assert client.get(path, headers=samsung).json()["subscriptionID"] == subscription["subscriptionID"]
        assert client.get(path, headers=_bearer(creds, "partner", d.ids["sk"], subject="sk-wms")).status_code == 404
        assert client.delete(path, headers=samsung).status_code == 204
        assert client.get("/queries/installs/subscriptions", headers=samsung).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dest": "http://203.0.113.9/callback", "stream": True}, "dest"),
        ({"dest": "file:///etc/passwd", "stream": True}, "dest"),
        ({"stream": True}, "dest"),
        ({"dest": "https://client.example.com/cb"}, "stream"),
        ({"dest": "https://client.example.com/cb", "schedule": {"minute": "60"}}, "schedule.minute"),
        ({"dest": "https://client.example.com/cb", "schedule": {"hour": "[5-2]"}}, "schedule.hour"),
        ({"dest": "https://client.example.com/cb", "schedule": {"minute": "*"}}, "schedule.minute"),
        ({"dest": "https://client.example.com/cb", "schedule": {"week": "1"}}, "schedule.week"),
        ({"dest": "https://client.example.com/cb", "stream": True, "schedule": {"hour": "1"}}, "stream"),
    ],
)
def test_a_subscription_the_registry_cannot_serve_is_refused_naming_the_field(
    deal: Dealt, body: dict[str, Any], field: str
) -> None:
    _, _, creds, base = deal
    auditor = _bearer(creds, "auditor", subject="auditor-1")
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.post("/queries", json=SHIPPING, headers=auditor).status_code == 201
        refused = client.post("/queries/shipments/subscriptions", json=body, headers=auditor)
        assert refused.status_code == 400
        assert refused.json()["type"] == "epcisException:SubscriptionControlsException"
        assert refused.json()["violations"][0]["field"] == field
        missing = client.post("/queries/nothing/subscriptions", json={"dest": "https://a.example/", "stream": True},
                              headers=auditor)
        assert missing.status_code == 404


def test_a_scheduled_subscription_reports_at_its_query_times_and_when_empty_if_asked(
    deal: Dealt, hook: _Hook
) -> None:
    """EPCIS 1.2 section 8.2.5.3's schedule (every second here): with ``reportIfEmpty`` an empty
    result is sent too."""
    _, d, creds, base = deal
    samsung = _bearer(creds, "partner", d.ids["samsung"], subject="samsung-wms")
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.post("/queries", json=SHIPPING, headers=samsung).status_code == 201
        made = client.post("/queries/shipments/subscriptions",
                           json={"dest": hook.url, "reportIfEmpty": True, "schedule": {"second": "[0-59]"}},
                           headers=samsung)
        assert made.status_code == 201, made.text
        assert made.json()["schedule"] == {"second": ",".join(str(n) for n in range(60))}
        assert "stream" not in made.json() and made.json()["reportIfEmpty"] is True
        [(_, body), *_] = hook.documents()
        document = json.loads(body)
        assert schema_errors(document) == []
        assert document["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []


def _serve(start_server: Callable[..., RunningServer], store_url: str, creds: Credentials) -> tuple[RunningServer, str]:
    """A server on ``store_url`` with the REST binding (its webhook deliveries running)."""
    server = start_server(store_url, **creds.settings())
    http: EpcisHttpServer = build_epcis_http(server.server, 0)
    port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
    server.on_stop = lambda: asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)  # type: ignore[attr-defined]
    return server, f"http://127.0.0.1:{port}"


def _stop(server: RunningServer) -> None:
    server.on_stop()  # type: ignore[attr-defined]
    server.stop()


def test_a_named_query_and_its_subscription_survive_a_restart_and_the_deliveries_resume_where_they_stopped(
    start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path, hook: _Hook
) -> None:
    """The server acknowledged both with 201: after a restart on the same store (SQLite file and
    PostgreSQL) they are there, the subscriber's token still signs, its reach is still its own
    batches, and the event the destination refused before the restart is delivered after it,
    once, without the one it had accepted."""
    creds = Credentials.create(tmp_path)
    first, base = _serve(start_server, store_url, creds)
    d = build_deal(first.stubs(), creds.md("admin", subject="registry-admin"))
    d.batch("a3", "samsung", "site_samsung")  # each batch has one unit received and not installed
    samsung = _bearer(creds, "partner", d.ids["samsung"], subject="samsung-wms")
    admin = _bearer(creds, "admin", subject="registry-admin")
    installs = {"name": "installs", "query": {"EQ_bizStep": ["installing"]}}
    secret = "a persisted HMAC key"
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.post("/queries", json=installs, headers=samsung).status_code == 201
        made = client.post("/queries/installs/subscriptions",
                           json={"dest": hook.url, "signatureToken": secret, "stream": True}, headers=samsung)
        assert made.status_code == 201, made.text
        subscription = made.json()["subscriptionID"]
        before = client.post("/events", json=install_event(first, d.ids["a1"], "SNa12"), headers=samsung)
        assert before.status_code == 201, before.text
        assert len(hook.documents()) == 1 and hook.delivered() == [before.json()["eventID"]]

        hook.status = 503  # the destination is down: the next event is not delivered yet
        theirs = client.post("/events", json=install_event(first, d.ids["b1"], "SNb12"), headers=admin)
        refused = client.post("/events", json=install_event(first, d.ids["a2"], "SNa22"), headers=samsung)
        assert theirs.status_code == refused.status_code == 201
        deadline = time.monotonic() + 20
        while hook.refused == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hook.refused > 0
    _stop(first)

    hook.status = 200
    second, base = _serve(start_server, store_url, creds)
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/queries", headers=samsung).json() == [installs]
        [listed] = client.get("/queries/installs/subscriptions", headers=samsung).json()
        assert listed["subscriptionID"] == subscription and "lastNotifiedAt" in listed
        assert secret not in client.get("/queries/installs/subscriptions", headers=samsung).text
        assert client.get("/queries/installs", headers=_bearer(creds, "partner", d.ids["sk"])).status_code == 404

        assert len(hook.documents(count=2)) == 2
        assert hook.delivered() == [before.json()["eventID"], refused.json()["eventID"]]
        headers, body = hook.received[-1]
        assert headers["gs1-signature"] == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

        after = client.post("/events", json=install_event(second, d.ids["a3"], "SNa32"), headers=samsung)
        assert after.status_code == 201, after.text
        assert len(hook.documents(count=3)) == 3
        assert hook.delivered() == [before.json()["eventID"], refused.json()["eventID"], after.json()["eventID"]]


def test_two_servers_on_one_store_share_the_queries_and_deliver_each_event_once(
    start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path, hook: _Hook
) -> None:
    """The production shape: a query made through one server is served by the other, and the
    subscription made through the other is delivered by one of them at a time (its lease)."""
    creds = Credentials.create(tmp_path)
    one, base_one = _serve(start_server, store_url, creds)
    d = build_deal(one.stubs(), creds.md("admin", subject="registry-admin"))
    for key in ("a3", "a4"):  # each batch has one unit received and not installed
        d.batch(key, "samsung", "site_samsung")
    two, base_two = _serve(start_server, store_url, creds)
    samsung = _bearer(creds, "partner", d.ids["samsung"], subject="samsung-wms")
    installs = {"name": "installs", "query": {"EQ_bizStep": ["installing"]}}
    try:
        with httpx.Client(base_url=base_one, timeout=60) as a, httpx.Client(base_url=base_two, timeout=60) as b:
            assert a.post("/queries", json=installs, headers=samsung).status_code == 201
            assert b.get("/queries/installs", headers=samsung).json() == installs
            assert b.post("/queries", json=installs, headers=samsung).status_code == 409
            made = b.post("/queries/installs/subscriptions", json={"dest": hook.url, "stream": True}, headers=samsung)
            assert made.status_code == 201, made.text
            assert [s["subscriptionID"] for s in a.get("/queries/installs/subscriptions", headers=samsung).json()] \
                == [made.json()["subscriptionID"]]
            posted = []
            for n, client in enumerate((a, b, a, b)):
                answer = client.post("/events", json=install_event(one, d.ids[f"a{n + 1}"], f"SNa{n + 1}2"), headers=samsung)
                assert answer.status_code == 201, answer.text
                posted.append(answer.json()["eventID"])
                deadline = time.monotonic() + 20
                while len(hook.delivered()) <= n and time.monotonic() < deadline:
                    time.sleep(0.1)
            time.sleep(2)  # time for a second delivery of any event, were there one
            assert hook.delivered() == posted
            assert b.delete("/queries/installs", headers=samsung).status_code == 204
            assert a.get("/queries/installs", headers=samsung).status_code == 404
    finally:
        _stop(two)
        _stop(one)
