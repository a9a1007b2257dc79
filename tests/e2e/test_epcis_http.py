"""The EPCIS 2.0 REST binding on a real uvicorn server (port 0), called with httpx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import pytest

from registry.application import commands as c
from registry.bootstrap import build_epcis_http
from registry.epcis.export import document
from registry.epcis.http import EpcisHttpServer
from registry.epcis.sources import batch_events, log_events
from tests.builders import make_world
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials
from tests.e2e.test_epcis_access import install_event
from tests.e2e.test_partner_isolation import Deal, build_deal
from tests.epcis_support.gs1 import example, schema_errors
from tests.integration.test_epcis import NOW, batch_state, copy_reference_data, full_history


@pytest.fixture
def http_on(start_server: Callable[..., RunningServer]) -> Iterator[Callable[[RunningServer], str]]:
    started: list[tuple[RunningServer, EpcisHttpServer]] = []

    def start(server: RunningServer) -> str:
        http = build_epcis_http(server.server, 0)
        port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
        started.append((server, http))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, http in started:
        asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def test_a_partners_document_posted_to_capture_is_written_under_the_callers_identity(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path
) -> None:
    source = start_server(f"sqlite:///{tmp_path}/a.db")
    target = start_server(f"sqlite:///{tmp_path}/b.db")
    a, _ = full_history(make_world(source.registry))
    copy_reference_data(source.registry, target.registry)
    base = http_on(target)
    doc = document(list(batch_events(source.registry, a)), NOW)

    with httpx.Client(base_url=base, timeout=60) as client:
        answer = client.post("/capture", json=doc, headers={"x-gpureg-actor": "wms@samsung"})
        assert answer.status_code == 202, answer.text
        job = client.get(answer.headers["Location"]).json()
        assert job["success"] and not job["running"] and job["errors"] == []
        assert {e["status"] for e in job["events"]} == {"written"}
        assert batch_state(target.registry.get_batch(a)) == batch_state(source.registry.get_batch(a))
        assert target.registry.history(a, limit=1)[0].actor == "wms@samsung"

        events = client.get("/events", params={"batchID": str(a), "EQ_bizStep": "shipping",
                                                "EQ_disposition": "in_transit"})
        assert events.status_code == 200 and events.headers["content-type"].startswith("application/ld+json")
        query_doc = events.json()
        assert query_doc["type"] == "EPCISQueryDocument" and schema_errors(query_doc) == []
        listed = query_doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert [e["bizStep"] for e in listed] == ["shipping"]
        shipped = next(e for e in doc["epcisBody"]["eventList"] if e.get("bizStep") == "shipping")
        assert listed[0]["epcList"] == shipped["epcList"]

        first = client.get("/events", params={"perPage": "3"})
        assert len(first.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 3
        assert 'rel="next"' in first.headers["Link"]
        assert client.get("/context/gpureg.jsonld").json()["@context"]["gpureg"] == "https://ns.gpureg.example/epcis/"


def test_a_refused_document_is_a_finished_job_naming_each_event_and_writes_nothing(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path
) -> None:
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    base = http_on(server)
    head = server.head()
    doc = example("Example_9.6.4-TransformationEvent.jsonld")

    with httpx.Client(base_url=base, timeout=60) as client:
        answer = client.post("/capture", content=httpx.Request("POST", "/", json=doc).content,
                             headers={"content-type": "application/ld+json"})
        assert answer.status_code == 202
        job = client.get(answer.headers["Location"]).json()
        assert job["success"] is False and job["captureErrorBehaviour"] == "rollback"
        [error] = job["errors"]
        assert error["index"] == 0 and error["field"] == "type" and "supported-event" in error["rule"]
        # GS1's CaptureJob: each error is an RFC 7807 problem with the REST binding's exception type
        assert error["type"] == "epcisException:ValidationException" and error["title"]
        assert server.head() == head

        garbage = client.post("/capture", content=b"{oops", headers={"content-type": "application/json"})
        assert garbage.status_code == 400 and garbage.json()["type"] == "epcisException:ValidationException"
        no_version = {k: val for k, val in doc.items() if k != "schemaVersion"}
        headless = client.post("/capture", json=no_version)
        assert headless.status_code == 400 and headless.json()["type"] == "epcisException:ValidationException"
        assert headless.json()["violations"] == [{"field": "schemaVersion", "rule": headless.json()["violations"][0]["rule"]}]
        assert server.head() == head
        media = client.post("/capture", content=b"x", headers={"content-type": "text/plain"})
        assert media.status_code == 415 and media.json()["type"] == "epcisException:UnsupportedMediaTypeException"
        bad = client.get("/events", params={"GE_eventTime": "yesterday"})
        assert bad.status_code == 400 and bad.json()["violations"][0]["field"] == "GE_eventTime"
        assert bad.json()["type"] == "epcisException:QueryParameterException"
        assert client.get("/events", params={"EQ_nonsense": "1"}).status_code == 400
        missing = client.get("/capture/does-not-exist")
        assert missing.status_code == 404 and missing.json()["type"] == "epcisException:NoSuchNameException"


def _listed(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "EPCISQueryDocument" and schema_errors(body) == []
    return list(body["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def test_get_events_event_id_returns_the_event_as_exported_and_an_unknown_one_is_no_such_name(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path
) -> None:
    """OpenAPI ``GET /events/{eventID}``: an EPCISQueryDocument enclosing the event (the eventID
    URL-encoded in the path); ``404`` ``NoSuchNameException`` for an eventID the registry never
    exported."""
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    a, _ = full_history(make_world(server.registry))
    base = http_on(server)
    exported = list(batch_events(server.registry, a))
    shipped = next(e for e in exported if e.get("bizStep") == "shipping")

    with httpx.Client(base_url=base, timeout=60) as client:
        answer = client.get("/events/" + quote(shipped["eventID"], safe=""))
        assert _listed(answer) == [shipped]
        assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
        unknown = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"
        missing = client.get("/events/" + quote(unknown, safe=""))
        assert missing.status_code == 404 and missing.json()["type"] == "epcisException:NoSuchNameException"
        assert missing.headers["content-type"] == "application/problem+json"


def test_the_top_level_resources_eventtypes_epcs_bizsteps_and_dispositions_list_their_events_paged_like_get_events(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path
) -> None:
    """OpenAPI ``GET /eventTypes``, ``/eventTypes/{eventType}/events``, ``/epcs/{epc}/events``,
    ``/bizSteps/{bizStep}/events``, ``/dispositions/{disposition}/events``: each is ``GET /events``
    with the path's parameter set, the same query parameters, ``perPage`` and ``Link``."""
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    full_history(make_world(server.registry))
    base = http_on(server)
    exported = [e for _, e in log_events(server.registry)]
    shipped = next(e for e in exported if e.get("bizStep") == "shipping")
    gpu = shipped["epcList"][0]

    with httpx.Client(base_url=base, timeout=60) as client:
        types = client.get("/eventTypes").json()
        assert types["type"] == "Collection" and "ObjectEvent" in types["member"] and len(types["member"]) == 5
        objects = _listed(client.get("/eventTypes/ObjectEvent/events", params={"perPage": "1000"}))
        assert objects == [e for e in exported if e["type"] == "ObjectEvent"] and objects
        assert client.get("/eventTypes/ObjectEvent").json()["member"] == ["events"]
        for unknown_type in (client.get("/eventTypes/GpuEvent/events"), client.get("/eventTypes/GpuEvent")):
            assert unknown_type.status_code == 404
            assert unknown_type.json()["type"] == "epcisException:NoSuchNameException"

        history = _listed(client.get("/epcs/" + quote(gpu, safe="") + "/events", params={"perPage": "1000"}))
        assert history == [e for e in exported if gpu in e.get("epcList", ())] and shipped in history
        # the same as MATCH_anyEPC on GET /events
        assert _listed(client.get("/events", params={"MATCH_anyEPC": gpu, "perPage": "1000"})) == history

        for path, term in (("/bizSteps/shipping/events", "bizStep"), ("/dispositions/in_transit/events", "disposition")):
            value = path.split("/")[2]
            listed = _listed(client.get(path, params={"perPage": "1000"}))
            assert listed == [e for e in exported if e.get(term) == value] and listed
        # CBV in URN form, URL-encoded, as GS1's example
        urn = _listed(client.get("/bizSteps/" + quote("urn:epcglobal:cbv:bizstep:shipping", safe="") + "/events"))
        assert urn == _listed(client.get("/bizSteps/shipping/events"))

        # paging: perPage and the Link header on the resource's own path, followed to the end
        first = client.get("/eventTypes/ObjectEvent/events", params={"perPage": "2"})
        link = first.headers["Link"]
        assert link.startswith("</eventTypes/ObjectEvent/events?") and 'rel="next"' in link
        pages = _listed(first)
        while "Link" in first.headers:
            first = client.get(first.headers["Link"].split(">")[0].lstrip("<"))
            pages += _listed(first)
        assert pages == objects

        # the path's parameter may not be given again in the query
        again = client.get("/bizSteps/shipping/events", params={"EQ_bizStep": "receiving"})
        assert again.status_code == 400 and again.json()["type"] == "epcisException:QueryParameterException"
        assert again.json()["violations"][0]["field"] == "EQ_bizStep"


def test_get_events_takes_the_standards_record_time_action_location_read_point_any_epc_and_event_id_parameters(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path
) -> None:
    """OpenAPI ``GET /events`` parameters ``GE_recordTime``, ``LT_recordTime``, ``EQ_action``,
    ``EQ_bizLocation``, ``EQ_readPoint``, ``MATCH_anyEPC``, ``EQ_eventID``; a parameter the
    registry does not support (``EQ_sensorMetadata_time``) is a ``QueryParameterException`` naming it."""
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    full_history(make_world(server.registry))
    base = http_on(server)
    exported = [e for _, e in log_events(server.registry)]
    installed = next(e for e in exported if e.get("bizStep") == "installing")
    site = installed["bizLocation"]["id"]

    def select(params: dict[str, str]) -> list[dict[str, Any]]:
        with httpx.Client(base_url=base, timeout=60) as client:
            return _listed(client.get("/events", params={"perPage": "1000", **params}))

    assert select({"EQ_action": "DELETE|ADD"}) == [e for e in exported if e["action"] in ("ADD", "DELETE")]
    at_site = select({"EQ_bizLocation": site})
    assert installed in at_site and all(e["bizLocation"]["id"] == site for e in at_site)
    assert select({"EQ_readPoint": site}) == [e for e in exported if e.get("readPoint", {}).get("id") == site]
    assert select({"EQ_eventID": installed["eventID"]}) == [installed]
    middle = sorted(e["recordTime"] for e in exported)[len(exported) // 2]
    later = select({"GE_recordTime": middle})
    earlier = select({"LT_recordTime": middle})
    assert later and earlier and sorted(map(str, later + earlier)) == sorted(map(str, exported))
    assert all(e["recordTime"] >= middle for e in later)

    with httpx.Client(base_url=base, timeout=60) as client:
        bad = client.get("/events", params={"EQ_action": "MOVE"})
        assert bad.status_code == 400 and bad.json()["violations"][0]["field"] == "EQ_action"
        unsupported = client.get("/events", params={"EQ_sensorMetadata_time": "2026-03-01T00:00:00Z"})
        assert unsupported.status_code == 400
        assert unsupported.json()["type"] == "epcisException:QueryParameterException"
        assert unsupported.json()["violations"][0]["field"] == "EQ_sensorMetadata_time"


@pytest.fixture
def deal(
    start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path
) -> Iterator[tuple[RunningServer, Deal, Credentials, str]]:
    """Two competing partners' batches (test_partner_isolation's deal) behind bearer tokens, on
    SQLite and on PostgreSQL."""
    creds = Credentials.create(tmp_path)
    server = start_server(store_url, **creds.settings())
    d = build_deal(server.stubs(), creds.md("admin", subject="registry-admin"))
    http: EpcisHttpServer = build_epcis_http(server.server, 0)
    port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
    yield server, d, creds, f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def test_a_partner_sees_only_its_own_events_through_get_events_event_id_and_every_resource_path(
    deal: tuple[RunningServer, Deal, Credentials, str],
) -> None:
    """OpenAPI ``GET /events/{eventID}``, ``/eventTypes/{eventType}/events``, ``/epcs/{epc}/events``,
    ``/bizSteps/{bizStep}/events``, ``/dispositions/{disposition}/events``,
    ``/bizLocations/{bizLocation}/events``, ``/readPoints/{readPoint}/events``: admitted as
    ``ExportEpcis`` and confined as ``GET /events``. Another partner's event is ``404`` exactly as
    one that does not exist (never ``403``); its GPUs' and sites' histories are empty."""
    server, d, creds, base = deal
    ours = list(batch_events(server.registry, UUID(d.ids["a1"])))
    theirs = list(batch_events(server.registry, UUID(d.ids["b1"])))
    their_ids = {e["eventID"] for e in theirs}
    their_shipment = next(e for e in theirs if e.get("bizStep") == "shipping")
    their_install = next(e for e in theirs if e.get("bizStep") == "installing")
    our_shipment = next(e for e in ours if e.get("bizStep") == "shipping")
    samsung = {"Authorization": f"Bearer {creds.token('partner', d.ids['samsung'], subject='samsung-wms')}"}
    regulator = {"Authorization": f"Bearer {creds.token('regulator')}"}
    unknown = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"

    def path(template: str, value: str) -> str:
        return template.format(quote(value, safe=""))

    routes = [
        path("/epcs/{}/events", their_shipment["epcList"][0]),
        "/eventTypes/ObjectEvent/events",
        "/bizSteps/shipping/events",
        f"/dispositions/{their_shipment['disposition']}/events",
        path("/bizLocations/{}/events", their_install["bizLocation"]["id"]),
        path("/readPoints/{}/events", their_install["readPoint"]["id"]),
    ]
    with httpx.Client(base_url=base, timeout=60) as client:
        assert _listed(client.get(path("/events/{}", our_shipment["eventID"]), headers=samsung)) == [our_shipment]
        hidden = client.get(path("/events/{}", their_shipment["eventID"]), headers=samsung)
        missing = client.get(path("/events/{}", unknown), headers=samsung)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["type"] == "epcisException:NoSuchNameException"
        assert hidden.text.replace(their_shipment["eventID"], "<id>") == missing.text.replace(unknown, "<id>")
        assert _listed(client.get(path("/events/{}", their_shipment["eventID"]), headers=regulator)) == [their_shipment]

        for route in routes:
            seen = _listed(client.get(route, params={"perPage": "1000"}, headers=samsung))
            assert not their_ids & {e["eventID"] for e in seen}, route
            everything = _listed(client.get(route, params={"perPage": "1000"}, headers=regulator))
            assert their_ids & {e["eventID"] for e in everything}, route
        own = _listed(client.get(path("/epcs/{}/events", our_shipment["epcList"][0]), headers=samsung))
        assert our_shipment in own
        assert _listed(client.get(routes[0], headers=samsung)) == []

        # every new route is gated like GET /events: no credential is 401, the auditor may read
        for route in [path("/events/{}", our_shipment["eventID"]), "/eventTypes", "/eventTypes/ObjectEvent",
                      "/eventTypes/GpuEvent", *routes]:
            refused = client.get(route)
            assert refused.status_code == 401 and refused.json()["type"] == "epcisException:SecurityException", route
        assert client.get("/eventTypes", headers={"Authorization": f"Bearer {creds.token('auditor')}"}).status_code == 200


def test_post_events_captures_one_event_answering_201_with_its_location_and_refuses_another_partners(
    deal: tuple[RunningServer, Deal, Credentials, str],
) -> None:
    """OpenAPI ``POST /events``: one event, captured synchronously under the caller's identity and
    authorized as its command (``CaptureEpcis``): ``201`` with ``Location: /events/{eventID}``;
    ``409`` ResourceAlreadyExistsException for the same event again; ``400``
    ValidationException naming field and rule (nothing written) for another partner's batch;
    ``403`` for a role that may not capture; ``415`` for another media type."""
    server, d, creds, base = deal
    samsung = {"Authorization": f"Bearer {creds.token('partner', d.ids['samsung'], subject='samsung-wms')}"}
    ours, theirs = install_event(server, d.ids["a1"], "SNa12"), install_event(server, d.ids["b1"], "SNb12")
    before = len(server.registry.history(UUID(d.ids["b1"])))

    with httpx.Client(base_url=base, timeout=60) as client:
        created = client.post("/events", json=ours, headers=samsung)
        assert created.status_code == 201, created.text
        assert server.registry.history(UUID(d.ids["a1"]))[-1].actor == "samsung-wms"
        written = created.json()
        # the registry keeps serials upper case (its rendition, under the eventID as posted)
        assert [u.lower() for u in written["epcList"]] == [u.lower() for u in ours["epcList"]]
        assert written["bizStep"] == "installing" and written["gpureg:batchID"] == d.ids["a1"]
        assert created.headers["Location"] == "/events/" + quote(written["eventID"], safe="")
        assert _listed(client.get(created.headers["Location"], headers=samsung)) == [written]

        again = client.post("/events", json=ours, headers=samsung)
        assert again.status_code == 409 and again.json()["type"] == "epcisException:ResourceAlreadyExistsException"

        refused = client.post("/events", json=theirs, headers=samsung)
        assert refused.status_code == 400 and refused.json()["type"] == "epcisException:ValidationException"
        assert refused.json()["violations"][0]["field"] == "gpureg:batchID"
        assert "reference-exists" in refused.json()["violations"][0]["rule"]
        assert len(server.registry.history(UUID(d.ids["b1"]))) == before

        a_document = client.post("/events", json=document([theirs], NOW), headers=samsung)
        assert a_document.status_code == 400 and "POST /capture" in a_document.json()["detail"]
        auditor = {"Authorization": f"Bearer {creds.token('auditor')}"}
        forbidden = client.post("/events", json=ours, headers=auditor)
        assert forbidden.status_code == 403 and forbidden.json()["type"] == "epcisException:SecurityException"
        media = client.post("/events", content=b"x", headers=samsung | {"content-type": "text/plain"})
        assert media.status_code == 415
        assert len(server.registry.history(UUID(d.ids["b1"]))) == before


def test_get_events_event_id_of_an_order_declared_in_error_encloses_the_event_and_its_error_declaration(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path: Path
) -> None:
    """OpenAPI ``GET /events/{eventID}``: "an EPCISQueryDocument enclosing the unique event and
    error declarations" (EPCIS 2.0 section 7.4.1.2: the declaration repeats the eventID)."""
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    w = make_world(server.registry)
    batch = w.order(quantity=4)
    w.do("correct_order", c.CorrectOrder, batch_id=batch, po_number="PO-2026-0001-R", reason="typo in the PO",
         occurred_at=NOW)
    base = http_on(server)
    exported = list(batch_events(server.registry, batch))
    declaration = next(e for e in exported if "errorDeclaration" in e)
    ordered = next(e for e in exported if e["eventID"] == declaration["eventID"] and e is not declaration)
    corrective = declaration["errorDeclaration"]["correctiveEventIDs"][0]

    with httpx.Client(base_url=base, timeout=60) as client:
        assert _listed(client.get("/events/" + quote(ordered["eventID"], safe=""))) == [ordered, declaration]
        [fixed] = _listed(client.get("/events/" + quote(corrective, safe="")))
        assert fixed["gpureg:poNumber"] == "PO-2026-0001-R"


def test_get_events_orders_by_event_time_limits_with_event_count_limit_and_refuses_more_than_max_event_count(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path: Path
) -> None:
    """OpenAPI ``GET /events`` parameters ``orderBy``, ``orderDirection`` (default ``DESC``),
    ``eventCountLimit`` (only with ``orderBy``; not with ``maxEventCount``) and ``maxEventCount``
    (``413`` ``QueryTooLargeException`` when more events match); ordered pages follow ``Link``."""
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    full_history(make_world(server.registry))
    base = http_on(server)
    exported = [e for _, e in log_events(server.registry)]

    def when(e: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00"))

    by_time = sorted(exported, key=when)

    with httpx.Client(base_url=base, timeout=60) as client:
        ascending = _listed(client.get("/events", params={"orderBy": "eventTime", "orderDirection": "ASC",
                                                          "perPage": "1000"}))
        assert ascending == by_time
        [latest] = _listed(client.get("/events", params={"orderBy": "eventTime", "eventCountLimit": "1"}))
        assert latest == sorted(exported, key=when, reverse=True)[0]  # ties in log order
        assert _listed(client.get("/events", params={"orderBy": "eventTime", "perPage": "1000"})) == \
            sorted(exported, key=when, reverse=True)
        first = client.get("/events", params={"orderBy": "eventTime", "orderDirection": "ASC", "perPage": "3"})
        pages = _listed(first)
        while "Link" in first.headers:
            first = client.get(first.headers["Link"].split(">")[0].lstrip("<"))
            pages += _listed(first)
        assert pages == by_time

        assert len(_listed(client.get("/events", params={"maxEventCount": str(len(exported)),
                                                         "perPage": "1000"}))) == len(exported)
        too_many = client.get("/events", params={"maxEventCount": str(len(exported) - 1)})
        assert too_many.status_code == 413 and too_many.json()["type"] == "epcisException:QueryTooLargeException"
        for params, field in (({"eventCountLimit": "1"}, "eventCountLimit"),
                              ({"orderBy": "eventTime", "eventCountLimit": "1", "maxEventCount": "5"}, "eventCountLimit"),
                              ({"orderBy": "quantity"}, "orderBy"),
                              ({"orderBy": "eventTime", "orderDirection": "UP"}, "orderDirection")):
            bad = client.get("/events", params=params)
            assert bad.status_code == 400 and bad.json()["type"] == "epcisException:QueryParameterException"
            assert bad.json()["violations"][0]["field"] == field, params


def test_a_document_captured_over_http_is_found_under_its_own_event_ids_and_captured_again_without_a_write(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path: Path
) -> None:
    """EPCIS 2.0 section 7.4.1: the eventID a partner gave an event names it in the registry too
    (``GET /events/{eventID}``, ``EQ_eventID``); the same document posted again is a successful
    capture job whose events are all ``replayed``, and nothing is written."""
    source = start_server(f"sqlite:///{tmp_path}/a.db")
    target = start_server(f"sqlite:///{tmp_path}/b.db")
    a, _ = full_history(make_world(source.registry))
    copy_reference_data(source.registry, target.registry)
    base = http_on(target)
    events = list(batch_events(source.registry, a))
    for i, e in enumerate(events):  # the partner's own eventIDs
        e["eventID"] = f"urn:uuid:5e1f0000-0000-4000-8000-{i:012d}"
    doc = document(events, NOW)
    shipped = next(e for e in events if e.get("bizStep") == "shipping")

    with httpx.Client(base_url=base, timeout=60) as client:
        first = client.post("/capture", json=doc, headers={"x-gpureg-actor": "wms@samsung"})
        assert first.status_code == 202 and client.get(first.headers["Location"]).json()["success"]
        found = _listed(client.get("/events/" + quote(shipped["eventID"], safe="")))
        assert [e["eventID"] for e in found] == [shipped["eventID"]]
        by_id = _listed(client.get("/events", params={"EQ_eventID": shipped["eventID"]}))
        assert [e["eventID"] for e in by_id] == [shipped["eventID"]]
        listed = _listed(client.get("/events", params={"batchID": str(a), "perPage": "1000"}))
        assert [e["eventID"] for e in listed] == [e["eventID"] for e in events]
        head = target.registry.head()

        again = client.post("/capture", json=doc, headers={"x-gpureg-actor": "wms@samsung"})
        job = client.get(again.headers["Location"]).json()
        assert again.status_code == 202 and job["success"] and job["errors"] == []
        assert {e["status"] for e in job["events"]} == {"replayed"}
        assert target.registry.head() == head
