"""An independent conformance check of the EPCIS 2.0 REST binding, written as an outside grader
would: GS1-style documents mapping the registry's lifecycle (commissioning, shipping, receiving,
installing, repairing, decommissioning) captured over HTTP, then queried back over HTTP with the
standard's query parameters. Only the reference data (parties, sites, a GPU model, an export
authorization: master data, which EPCIS leaves to other channels) is set up in process.

Clauses cited: EPCIS 2.0 (GS1, 2022) sections 7.4 (event fields), 8.2.7.1 (SimpleEventQuery
parameters), 12 (REST binding, GS1's openapi.yaml), CBV 2.0."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import httpx
import pytest

from registry.bootstrap import build_epcis_http
from registry.epcis.http import EpcisHttpServer
from tests.builders import World, make_world
from tests.e2e.conftest import RunningServer
from tests.epcis_support.gs1 import schema_errors

ID = "https://id.gpureg.example/"
CONTEXT: list[Any] = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
           {"gpureg": "https://ns.gpureg.example/epcis/"}]
ACTOR = {"x-gpureg-actor": "wms@grader"}


@pytest.fixture
def served(start_server: Callable[..., RunningServer], store_url: str) -> Iterator[tuple[World, str]]:
    """A server on SQLite and on PostgreSQL, its reference data registered, the REST binding on port 0."""
    server = start_server(store_url)
    world = make_world(server.registry)
    http: EpcisHttpServer = build_epcis_http(server.server, 0)
    port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
    yield world, f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def _gpu(serial: str) -> str:
    return f"{ID}gpu/{serial}"


def _site(w: World, which: UUID | None = None) -> dict[str, str]:
    return {"id": f"{ID}site/{which or w.site}"}


def _uid() -> str:
    return f"urn:uuid:{uuid4()}"


def lifecycle(w: World, batch: UUID, serials: list[str]) -> list[dict[str, Any]]:
    """A serialized batch's life as a GS1-style document would tell it: ordered, cleared,
    commissioned, shipped (times in Seoul's offset), received, installed, returned for repair,
    decommissioned. Each event carries its capturer's eventID and a recordTime the repository
    must ignore."""
    po = {"type": "po", "bizTransaction": f"{ID}po/PO-GRADER-1"}
    auth = {"type": "https://ns.gpureg.example/epcis/btt/export-authorization",
            "bizTransaction": f"{ID}authorization/{w.license}"}
    desadv = {"type": "desadv", "bizTransaction": f"{ID}shipment/SHP-G1"}
    epcs = [_gpu(s) for s in serials]
    cls = f"{ID}batch/{batch}"
    common = {"recordTime": "2000-01-01T00:00:00Z", "gpureg:batchID": str(batch)}
    return [
        {"type": "TransactionEvent", "eventID": _uid(), "eventTime": "2026-03-02T09:00:00.000Z",
         "eventTimeZoneOffset": "+00:00", "action": "ADD", "bizStep": "accepting", "bizTransactionList": [po],
         "quantityList": [{"epcClass": cls, "quantity": len(serials)}],
         "sourceList": [{"type": "owning_party", "source": f"{ID}party/{w.nvidia}"}],
         "destinationList": [{"type": "owning_party", "destination": f"{ID}party/{w.samsung}"}],
         "gpureg:poNumber": "PO-GRADER-1", "gpureg:modelID": str(w.b200), "gpureg:unitPrice": "38500.00",
         "gpureg:currency": "USD", "gpureg:allocationProgram": "grader", **common},
        {"type": "TransactionEvent", "eventID": _uid(), "eventTime": "2026-03-03T09:00:00.000Z",
         "eventTimeZoneOffset": "+00:00", "action": "ADD", "bizTransactionList": [po, auth],
         "quantityList": [{"epcClass": cls, "quantity": len(serials)}],
         "gpureg:clearance": "requested", "gpureg:eccn": "3A090.a", "gpureg:destinationCountry": "KR",
         "gpureg:consigneeID": str(w.samsung), "gpureg:endUserID": str(w.samsung),
         "gpureg:endUse": "AI factory", "gpureg:authorizationID": str(w.license), **common},
        {"type": "TransactionEvent", "eventID": _uid(), "eventTime": "2026-03-04T09:00:00.000Z",
         "eventTimeZoneOffset": "+00:00", "action": "ADD", "bizTransactionList": [po, auth],
         "quantityList": [{"epcClass": cls, "quantity": len(serials)}],
         "gpureg:clearance": "granted", "gpureg:authorizationID": str(w.license), **common},
        {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-05T09:00:00.000Z",
         "eventTimeZoneOffset": "+00:00", "action": "ADD", "bizStep": "commissioning", "disposition": "active",
         "epcList": epcs, "bizTransactionList": [po],
         "ilmd": {"gpureg:units": [{"gpureg:gpu": e, "gpureg:gpuUUID": f"GPU-{i:04d}"} for i, e in enumerate(epcs)]},
         **common},
        # shipping given as CBV web URIs; eventTime in Seoul (+09:00): 2026-03-06T00:00Z
        {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-06T09:00:00.000+09:00",
         "eventTimeZoneOffset": "+09:00", "action": "OBSERVE",
         "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping", "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
         "epcList": epcs, "bizTransactionList": [po, desadv, auth],
         "sourceList": [{"type": "possessing_party", "source": f"{ID}party/{w.nvidia}"}],
         "destinationList": [{"type": "owning_party", "destination": f"{ID}party/{w.samsung}"},
                             {"type": "possessing_party", "destination": f"{ID}party/{w.samsung}"},
                             {"type": "location", "destination": f"{ID}site/{w.site}"}],
         "gpureg:shipmentID": "SHP-G1", "gpureg:destinationCountry": "KR", "gpureg:origin": "Santa Clara, US",
         "gpureg:itn": "X20260305123456", "gpureg:eccn": "3A090.a", "gpureg:carrierID": str(w.carrier), **common},
        {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-10T18:00:00.000+09:00",
         "eventTimeZoneOffset": "+09:00", "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress",
         "epcList": epcs, "readPoint": _site(w), "bizLocation": _site(w), "bizTransactionList": [po, desadv],
         "destinationList": [{"type": "possessing_party", "destination": f"{ID}party/{w.samsung}"},
                             {"type": "location", "destination": f"{ID}site/{w.site}"}], **common},
        {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-12T09:00:00.000Z",
         "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:installing",
         "disposition": "active", "epcList": epcs[:3], "readPoint": _site(w), "bizLocation": _site(w),
         "gpureg:rack": "R01", "gpureg:host": "h01", **common},
        {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-16T09:00:00.000Z",
         "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "shipping", "disposition": "returned",
         "epcList": epcs[3:4], "bizTransactionList": [po, {"type": "rma", "bizTransaction": f"{ID}rma/RMA-G1"}],
         "gpureg:rmaNumber": "RMA-G1", "gpureg:reason": "ECC errors", **common},
        {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-17T09:00:00.000Z",
         "eventTimeZoneOffset": "+00:00", "action": "DELETE", "bizStep": "decommissioning",
         "disposition": "inactive", "epcList": epcs[3:4], "gpureg:method": "shredded", **common},
    ]


def _doc(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-12-01T00:00:00.000Z", "epcisBody": {"eventList": events}}


def _events(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "EPCISQueryDocument" and "@context" in body, body
    assert schema_errors(body) == []
    return list(body["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def _captured(client: httpx.Client, events: list[dict[str, Any]], **headers: str) -> dict[str, Any]:
    answer = client.post("/capture", json=_doc(events), headers={**ACTOR, **headers})
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"].startswith("/capture/")
    job = client.get(answer.headers["Location"], headers=ACTOR)
    assert job.status_code == 200
    return dict(job.json())


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["eventID"] for e in events]


def _problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = dict(answer.json())
    assert body["type"] == f"epcisException:{kind}" and body["status"] == status
    return body


@pytest.fixture
def captured(served: tuple[World, str]) -> Iterator[tuple[World, httpx.Client, list[dict[str, Any]], str]]:
    world, base = served
    batch = uuid4()
    serials = [f"GRD{i:04d}" for i in range(5)]
    events = lifecycle(world, batch, serials)
    before = datetime.now(UTC)
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        job = _captured(client, events)
        assert job["success"] is True and job["running"] is False and job["errors"] == [], job
        yield world, client, events, before.isoformat()


def test_a_capture_is_a_202_whose_location_is_a_finished_successful_job(captured: Any) -> None:
    """OpenAPI POST /capture: 202 with Location of the job; GET /capture/{captureID}: CaptureJob;
    GET /capture: the jobs, paged."""
    _, client, events, _ = captured
    jobs = client.get("/capture").json()
    assert len(jobs) == 1 and jobs[0]["success"] is True
    for member in ("captureID", "running", "success", "errors", "captureErrorBehaviour"):
        assert member in jobs[0]
    _captured(client, events[:1])  # a second job (the event replayed)
    first = client.get("/capture", params={"perPage": "1"})  # openapi.yaml GET /capture: paged
    assert len(first.json()) == 1 and 'rel="next"' in first.headers["Link"]
    second = client.get(first.headers["Link"].split(">")[0].lstrip("<"))
    assert len(second.json()) == 1 and "Link" not in second.headers
    assert {first.json()[0]["captureID"], second.json()[0]["captureID"]} == {j["captureID"] for j in
                                                                           client.get("/capture").json()}


def test_every_captured_event_is_returned_under_its_capturers_event_id_with_a_repository_record_time(
    captured: Any,
) -> None:
    """EPCIS 2.0 7.4.1: eventID is the capturer's; recordTime is set by the repository (a captured
    recordTime is ignored); eventTime keeps its instant and eventTimeZoneOffset its offset."""
    _, client, events, before = captured
    answer = client.get("/events", params={"perPage": "1000"})
    assert answer.headers["GS1-EPCIS-Version"].startswith("2.0")
    got = _events(answer)
    assert _ids(got) == _ids(events)
    for event in got:
        assert datetime.fromisoformat(event["recordTime"].replace("Z", "+00:00")) >= datetime.fromisoformat(before)
    shipped = next(e for e in got if e["eventID"] == events[4]["eventID"])
    assert shipped["eventTimeZoneOffset"] == "+09:00"
    assert datetime.fromisoformat(shipped["eventTime"].replace("Z", "+00:00")) == datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
    # a CBV web URI captured is returned as the bare CBV word (both are the same term, CBV 2.0 section 8)
    assert shipped["bizStep"] in ("shipping", "https://ref.gs1.org/cbv/BizStep-shipping")
    one = client.get("/events/" + quote(events[5]["eventID"], safe=""))
    assert _ids(_events(one)) == [events[5]["eventID"]]


def test_eq_bizstep_and_eq_disposition_match_bare_words_urns_and_web_uris_alike(captured: Any) -> None:
    """EPCIS 2.0 8.2.7.1 EQ_bizStep / EQ_disposition; CBV 2.0: bare word, URN and web URI are one term."""
    _, client, events, _ = captured
    for value in ("shipping", "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping"):
        assert _ids(_events(client.get("/events", params={"EQ_bizStep": value}))) == _ids([events[4], events[7]])
    assert _ids(_events(client.get("/events", params={"EQ_bizStep": "receiving|installing"}))) == _ids(events[5:7])
    assert _ids(_events(client.get("/events", params={"EQ_disposition": "returned"}))) == _ids(events[7:8])
    assert _ids(_events(client.get("/events", params={
        "EQ_disposition": "https://ref.gs1.org/cbv/Disp-in_transit"}))) == _ids(events[4:5])
    assert _ids(_events(client.get("/bizSteps/installing/events"))) == _ids(events[6:7])


def test_event_time_and_record_time_windows_are_inclusive_below_and_exclusive_above(captured: Any) -> None:
    """EPCIS 2.0 8.2.7.1: GE_eventTime (>=), LT_eventTime (<), in any offset; GE_recordTime."""
    _, client, events, before = captured
    # the shipment happened at 2026-03-06T00:00Z (09:00 in Seoul)
    at = {"GE_eventTime": "2026-03-06T09:00:00+09:00", "LT_eventTime": "2026-03-06T00:00:00.001Z"}
    assert _ids(_events(client.get("/events", params=at))) == _ids(events[4:5])
    assert _events(client.get("/events", params={"LT_eventTime": "2026-03-06T00:00:00Z",
                                                 "GE_eventTime": "2026-03-05T09:00:00.001Z"})) == []
    assert _ids(_events(client.get("/events", params={"GE_eventTime": "2026-03-12T09:00:00Z"}))) == _ids(events[6:])
    assert len(_events(client.get("/events", params={"GE_recordTime": before}))) == len(events)
    assert _events(client.get("/events", params={"LT_recordTime": before})) == []


def test_action_event_type_read_point_biz_location_and_epc_parameters_select_what_the_standard_says(
    captured: Any,
) -> None:
    """EPCIS 2.0 8.2.7.1: EQ_action, eventType, EQ_readPoint, EQ_bizLocation, MATCH_epc,
    MATCH_anyEPC; the resource paths /eventTypes, /epcs, /bizLocations, /readPoints."""
    w, client, events, _ = captured
    assert _ids(_events(client.get("/events", params={"EQ_action": "DELETE"}))) == _ids(events[8:9])
    assert _ids(_events(client.get("/events", params={"eventType": "TransactionEvent"}))) == _ids(events[:3])
    assert _ids(_events(client.get("/eventTypes/TransactionEvent/events"))) == _ids(events[:3])
    site = _site(w)["id"]
    assert _ids(_events(client.get("/events", params={"EQ_readPoint": site}))) == _ids(events[5:7])
    assert _ids(_events(client.get("/events", params={"EQ_bizLocation": site}))) == _ids(events[5:7])
    assert _ids(_events(client.get("/bizLocations/" + quote(site, safe="") + "/events"))) == _ids(events[5:7])
    assert _ids(_events(client.get("/readPoints/" + quote(site, safe="") + "/events"))) == _ids(events[5:7])
    assert _events(client.get("/events", params={"EQ_bizLocation": _site(w, w.site2)["id"]})) == []
    # WD_: the site or its descendants (a registry site has none but itself)
    assert _ids(_events(client.get("/events", params={"WD_bizLocation": site}))) == _ids(events[5:7])
    assert _ids(_events(client.get("/events", params={"WD_readPoint": site}))) == _ids(events[5:7])
    repaired = events[7]["epcList"][0]
    history = _ids(events[3:6]) + _ids(events[7:9])
    assert _ids(_events(client.get("/events", params={"MATCH_epc": repaired}))) == history
    assert _ids(_events(client.get("/events", params={"MATCH_anyEPC": repaired}))) == history
    assert _ids(_events(client.get("/epcs/" + quote(repaired, safe="") + "/events"))) == history


def test_quantity_events_are_matched_by_their_epc_class(captured: Any) -> None:
    """EPCIS 2.0 8.2.7.1 MATCH_epcClass / MATCH_anyEPCClass: events whose quantityList names the class."""
    _, client, events, _ = captured
    cls = events[0]["quantityList"][0]["epcClass"]
    assert _ids(_events(client.get("/events", params={"MATCH_epcClass": cls}))) == _ids(events[:3])
    assert _ids(_events(client.get("/events", params={"MATCH_anyEPCClass": cls}))) == _ids(events[:3])


def test_match_parent_id_is_a_standard_parameter_matching_no_event_without_a_parent(captured: Any) -> None:
    """EPCIS 2.0 8.2.7.1 MATCH_parentID: only events with a parentID matching (none here)."""
    _, client, _, _ = captured
    assert _events(client.get("/events", params={"MATCH_parentID": _gpu("GRD0000")})) == []


def test_order_by_direction_count_limit_and_max_event_count_follow_the_simple_event_query(captured: Any) -> None:
    """EPCIS 2.0 8.2.7.1: orderBy eventTime|recordTime, orderDirection ASC|DESC (DESC when
    omitted), eventCountLimit (first N of the order; only with orderBy), maxEventCount
    (QueryTooLargeException when more match)."""
    _, client, events, _ = captured
    asc = _events(client.get("/events", params={"orderBy": "eventTime", "orderDirection": "ASC"}))
    assert _ids(asc) == _ids(events)
    desc = _events(client.get("/events", params={"orderBy": "eventTime"}))
    assert _ids(desc) == _ids(events)[::-1]
    latest = _events(client.get("/events", params={"orderBy": "eventTime", "eventCountLimit": "2"}))
    assert _ids(latest) == _ids(events[7:])[::-1]
    _problem(client.get("/events", params={"maxEventCount": "3"}), 413, "QueryTooLargeException")
    assert len(_events(client.get("/events", params={"maxEventCount": "9"}))) == 9
    _problem(client.get("/events", params={"eventCountLimit": "2"}), 400, "QueryParameterException")
    _problem(client.get("/events", params={"orderBy": "eventTime", "eventCountLimit": "2", "maxEventCount": "2"}),
             400, "QueryParameterException")


def test_per_page_pages_are_linked_by_next_page_token_until_the_last(captured: Any) -> None:
    """OpenAPI GET /events: perPage, nextPageToken, Link rel="next"; the last page has no Link."""
    _, client, events, _ = captured
    answer = client.get("/events", params={"perPage": "4"})
    seen = _events(answer)
    assert len(seen) == 4
    pages = 1
    while "Link" in answer.headers:
        link = answer.headers["Link"]
        assert 'rel="next"' in link and "nextPageToken=" in link
        answer = client.get(link.split(">")[0].lstrip("<"))
        seen += _events(answer)
        pages += 1
    assert pages == 3 and _ids(seen) == _ids(events)


def test_bad_query_parameters_are_query_parameter_exceptions_and_unknown_resources_no_such_name(
    captured: Any,
) -> None:
    """OpenAPI: 400 QueryParameterException; 404 for an unknown event or capture job."""
    _, client, _, _ = captured
    for params in ({"GE_eventTime": "last tuesday"}, {"EQ_action": "UPDATE"}, {"perPage": "0"},
                   {"orderBy": "eventTime", "orderDirection": "SIDEWAYS"}, {"EQ_colour": "red"}):
        _problem(client.get("/events", params=params), 400, "QueryParameterException")
    _problem(client.get("/events/" + quote(_uid(), safe="")), 404, "NoSuchNameException")
    _problem(client.get("/capture/" + str(uuid4())), 404, "NoSuchNameException")
    _problem(client.get("/eventTypes/GpuEvent/events"), 404, "NoSuchNameException")


def test_a_document_with_one_bad_event_is_refused_whole_and_with_proceed_the_good_events_are_kept(
    served: tuple[World, str],
) -> None:
    """OpenAPI GS1-Capture-Error-Behaviour: rollback (default) writes nothing of a document with
    an invalid event; proceed keeps the valid ones. CBV 2.0: 'flying' is not a bizStep."""
    w, base = served
    events = lifecycle(w, uuid4(), [f"BAD{i:04d}" for i in range(5)])
    events[6]["bizStep"] = "flying"
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        job = _captured(client, events)
        assert job["success"] is False and job["captureErrorBehaviour"] == "rollback"
        assert [e["index"] for e in job["errors"]] == [6] and job["errors"][0]["field"] == "bizStep", job["errors"]
        assert job["errors"][0]["type"] == "epcisException:ValidationException"
        assert _events(client.get("/events")) == []
        job = _captured(client, events, **{"GS1-Capture-Error-Behaviour": "proceed"})
        assert job["captureErrorBehaviour"] == "proceed" and [e["index"] for e in job["errors"]] == [6]
        kept = _events(client.get("/events", params={"perPage": "1000"}))
        assert _ids(kept) == _ids(events[:6] + events[7:])


def test_capturing_a_document_again_writes_nothing_new(captured: Any) -> None:
    """EPCIS 2.0 7.4.1: an eventID identifies an event; capturing it again does not duplicate it."""
    _, client, events, _ = captured
    job = _captured(client, events)
    assert job["success"] is True
    assert _ids(_events(client.get("/events", params={"perPage": "1000"}))) == _ids(events)


def test_a_document_that_is_not_epcis_is_a_validation_exception_and_another_media_type_415(
    served: tuple[World, str],
) -> None:
    """OpenAPI POST /capture: 400 ValidationException; 415 for a media type other than JSON(-LD)."""
    _, base = served
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        _problem(client.post("/capture", content=b"not json", headers={"content-type": "application/json"}),
                 400, "ValidationException")
        _problem(client.post("/capture", content=b"<x/>", headers={"content-type": "application/xml"}),
                 415, "UnsupportedMediaTypeException")
        no_time = _doc([{"type": "ObjectEvent", "action": "OBSERVE", "epcList": [_gpu("X")],
                         "eventTimeZoneOffset": "+00:00"}])
        job = client.post("/capture", json=no_time)
        if job.status_code == 202:
            got = client.get(job.headers["Location"]).json()
            assert got["success"] is False and got["errors"][0]["field"] == "eventTime"
        else:
            _problem(job, 400, "ValidationException")


def test_the_extension_namespace_may_be_bound_to_any_prefix_in_the_documents_context(
    served: tuple[World, str],
) -> None:
    """JSON-LD (EPCIS 2.0 section 10): an extension field is named by its IRI; the prefix is the
    document's choice (here ``reg:`` instead of ``gpureg:``)."""
    w, base = served
    events = lifecycle(w, uuid4(), ["PFX0001"])[:1]
    renamed = [{(k.replace("gpureg:", "reg:") if k.startswith("gpureg:") else k): val for k, val in e.items()}
               for e in events]
    doc = _doc(renamed)
    doc["@context"] = [CONTEXT[0], {"reg": "https://ns.gpureg.example/epcis/"}]
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        answer = client.post("/capture", json=doc)
        job = client.get(answer.headers["Location"]).json()
        assert job["success"] is True, job["errors"]
        [got] = _events(client.get("/events"))
        assert got["gpureg:poNumber"] == "PO-GRADER-1"


def test_an_extension_named_by_its_full_iri_is_the_registrys_own(served: tuple[World, str]) -> None:
    """JSON-LD: ``https://ns.gpureg.example/epcis/poNumber`` is ``gpureg:poNumber`` expanded."""
    w, base = served
    [event] = lifecycle(w, uuid4(), ["IRI0001"])[:1]
    expanded = {(CONTEXT[1]["gpureg"] + k.removeprefix("gpureg:") if k.startswith("gpureg:") else k): val
                for k, val in event.items()}
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        job = _captured(client, [expanded])
        assert job["success"] is True, job["errors"]
        [got] = _events(client.get("/events"))
        assert got["eventID"] == event["eventID"] and got["gpureg:modelID"] == str(w.b200)


def test_every_answer_names_the_epcis_and_cbv_versions_and_another_major_version_is_not_acceptable(
    captured: Any,
) -> None:
    """OpenAPI: GS1-EPCIS-Version and GS1-CBV-Version on the answers (POST /capture's 202,
    GET /events, the resources); 406 NotAcceptableException for a version the server does not speak."""
    _, client, events, _ = captured
    for answer in (client.get("/events"), client.get("/eventTypes"), client.post("/capture", json=_doc(events[:1]))):
        assert answer.status_code in (200, 202)
        assert answer.headers["GS1-EPCIS-Version"].startswith("2.0")
        assert answer.headers["GS1-CBV-Version"].startswith("2.0")
        assert answer.headers["GS1-Extensions"] == "gpureg=https://ns.gpureg.example/epcis/"
    assert client.get("/events", headers={"GS1-EPCIS-Version": "2.0.0"}).status_code == 200
    _problem(client.get("/events", headers={"GS1-EPCIS-Version": "1.2.0"}), 406, "NotAcceptableException")
    _problem(client.get("/events", headers={"GS1-CBV-Version": "1.2.0"}), 406, "NotAcceptableException")


def test_an_epcis_query_document_may_be_posted_to_capture(served: tuple[World, str]) -> None:
    """OpenAPI POST /capture: 'This endpoint should support both EPCISDocument and
    EPCISQueryDocument as input.'"""
    w, base = served
    events = lifecycle(w, uuid4(), ["QRY0001"])[:2]
    query_doc = {"@context": CONTEXT, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
                 "creationDate": "2026-12-01T00:00:00.000Z",
                 "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                                "resultsBody": {"eventList": events}}}}
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        answer = client.post("/capture", json=query_doc)
        assert answer.status_code == 202, answer.text
        assert client.get(answer.headers["Location"]).json()["success"] is True
        assert _ids(_events(client.get("/events"))) == _ids(events)


def test_a_time_parameter_written_with_an_unencoded_plus_offset_is_read_as_its_offset(captured: Any) -> None:
    """A hand-written URL ``?GE_eventTime=2026-03-06T09:00:00+09:00`` (the '+' not percent-encoded,
    so form decoding makes it a space) still means +09:00."""
    _, client, events, _ = captured
    answer = client.get("/events?GE_eventTime=2026-03-06T09:00:00+09:00&LT_eventTime=2026-03-06T09:00:01+09:00")
    assert _ids(_events(answer)) == _ids(events[4:5])


def test_event_type_and_event_id_take_pipe_delimited_lists(captured: Any) -> None:
    """OpenAPI GET /events: array parameters are pipe-delimited."""
    _, client, events, _ = captured
    both = _events(client.get("/events", params={"eventType": "ObjectEvent|TransactionEvent"}))
    assert _ids(both) == _ids(events)
    two = _events(client.get("/events", params={"EQ_eventID": f"{events[1]['eventID']}|{events[8]['eventID']}"}))
    assert _ids(two) == [events[1]["eventID"], events[8]["eventID"]]
    assert _ids(_events(client.get("/events", params={"EQ_action": "ADD|DELETE"}))) == _ids(events[:4] + events[8:])


def test_one_event_posted_to_events_is_created_at_its_own_location_and_a_second_post_conflicts(
    served: tuple[World, str],
) -> None:
    """OpenAPI POST /events: 201 with Location; the same eventID again: 409."""
    w, base = served
    order = lifecycle(w, uuid4(), ["ONE0001"])[0]
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        created = client.post("/events", json=order)
        assert created.status_code == 201, created.text
        assert created.headers["Location"] == "/events/" + quote(order["eventID"], safe="")
        assert _ids(_events(client.get(created.headers["Location"]))) == [order["eventID"]]
        _problem(client.post("/events", json=order), 409, "ResourceAlreadyExistsException")


def test_a_named_query_runs_its_definition(captured: Any) -> None:
    """OpenAPI /queries: a named query's events are GET /events with its definition's parameters."""
    _, client, events, _ = captured
    made = client.post("/queries", json={"name": "grader-ship", "query": {"EQ_bizStep": ["shipping"]}})
    assert made.status_code == 201 and made.headers["Location"] == "/queries/grader-ship"
    answer = client.get("/queries/grader-ship/events")
    assert _ids(_events(answer)) == _ids([events[4], events[7]])
    assert answer.json()["epcisBody"]["queryResults"]["queryName"] == "grader-ship"
    assert client.delete("/queries/grader-ship").status_code == 204


def test_a_quantity_element_without_quantity_is_refused_naming_the_field(served: tuple[World, str]) -> None:
    """EPCIS 2.0 7.3.3.3: quantity is optional (unknown). An order is for a counted number of GPUs,
    so the registry's rule quantity-known refuses it (not the structural check); the refusal names
    the element, nothing is written."""
    w, base = served
    [order] = lifecycle(w, uuid4(), ["UNK0001"])[:1]
    del order["quantityList"][0]["quantity"]
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        job = _captured(client, [order])
        assert job["success"] is False and job["errors"][0]["field"].startswith("quantityList[0]")
        assert _events(client.get("/events")) == []


def test_more_events_than_the_capture_limit_is_capture_limit_exceeded(served: tuple[World, str]) -> None:
    """OpenAPI POST /capture 413 CaptureLimitExceededException, GS1-EPCIS-Capture-Limit."""
    w, base = served
    [order] = lifecycle(w, uuid4(), ["LIM0001"])[:1]
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        answer = client.post("/capture", json=_doc([order] * 10_001))
        _problem(answer, 413, "CaptureLimitExceededException")
        assert int(answer.headers["GS1-EPCIS-Capture-Limit"]) == 10_000


def test_an_order_declared_in_error_is_found_with_its_declaration_and_its_corrective_event(
    captured: Any,
) -> None:
    """EPCIS 2.0 7.4.1.2: an error declaration repeats the erroneous event (same eventID) with
    errorDeclaration {declarationTime, reason, correctiveEventIDs}; the corrective event is a new event."""
    _, client, events, _ = captured
    order = events[0]
    corrective = {**{k: val for k, val in order.items() if k != "eventID"}, "eventID": _uid(),
                  "gpureg:unitPrice": "37000.00", "gpureg:reason": "price agreed"}
    declaration = {**order, "errorDeclaration": {"declarationTime": "2026-03-20T09:00:00.000Z",
                                                 "reason": "incorrect_data",
                                                 "correctiveEventIDs": [corrective["eventID"]]}}
    job = _captured(client, [declaration, corrective])
    assert job["success"] is True, job["errors"]
    found = _events(client.get("/events/" + quote(order["eventID"], safe="")))
    assert [("errorDeclaration" in e) for e in found] == [False, True]
    assert found[1]["errorDeclaration"]["correctiveEventIDs"] == [corrective["eventID"]]
    assert found[1]["errorDeclaration"]["reason"] in ("incorrect_data", "https://ref.gs1.org/cbv/ER-incorrect_data")
    [fixed] = _events(client.get("/events/" + quote(corrective["eventID"], safe="")))
    assert fixed["gpureg:unitPrice"] == "37000.00"
    # EPCIS 2.0 8.2.7.1: EXISTS_errorDeclaration, EQ_errorReason, EQ_correctiveEventID, GE_errorDeclarationTime
    for params in ({"EXISTS_errorDeclaration": "true"}, {"EQ_errorReason": "incorrect_data"},
                   {"EQ_errorReason": "https://ref.gs1.org/cbv/ER-incorrect_data"},
                   {"EQ_correctiveEventID": corrective["eventID"]},
                   {"GE_errorDeclarationTime": "2026-03-20T09:00:00Z", "LT_errorDeclarationTime": "2026-03-21T00:00:00Z"}):
        declared = _events(client.get("/events", params=params))
        assert [e["eventID"] for e in declared] == [order["eventID"]] and "errorDeclaration" in declared[0]
    assert _events(client.get("/events", params={"EQ_errorReason": "did_not_occur"})) == []
    assert _events(client.get("/events", params={"GE_errorDeclarationTime": "2026-03-21T00:00:00Z"})) == []


def test_the_top_level_listings_name_the_vocabularies_and_the_values_the_events_carry(captured: Any) -> None:
    """OpenAPI GET /bizSteps, /dispositions (the CBV terms), /epcs, /bizLocations, /readPoints
    (the values known to the repository): Collections paged by perPage with Link; GET
    /epcs/{epc} and the like: the sub-resource ``events``, 404 for an unknown value."""
    w, client, events, _ = captured
    steps = client.get("/bizSteps", params={"perPage": "1000"}).json()
    assert steps["type"] == "Collection" and {"shipping", "receiving", "commissioning"} <= set(steps["member"])
    assert "in_transit" in client.get("/dispositions", params={"perPage": "1000"}).json()["member"]
    epcs = events[3]["epcList"]
    assert client.get("/epcs").json()["member"] == epcs
    first = client.get("/epcs", params={"perPage": "2"})
    assert first.json()["member"] == epcs[:2] and 'rel="next"' in first.headers["Link"]
    rest = client.get(first.headers["Link"].split(">")[0].lstrip("<")).json()["member"]
    assert rest == epcs[2:4]
    assert client.get("/bizLocations").json()["member"] == [_site(w)["id"]]
    assert client.get("/readPoints").json()["member"] == [_site(w)["id"]]
    assert client.get("/epcs/" + quote(epcs[0], safe="")).json()["member"] == ["events"]
    assert client.get("/bizSteps/shipping").json()["member"] == ["events"]
    _problem(client.get("/epcs/" + quote(_gpu("NEVER"), safe="")), 404, "NoSuchNameException")
    _problem(client.get("/bizSteps/flying"), 404, "NoSuchNameException")


def test_business_transaction_source_and_destination_parameters_are_named_by_their_type(captured: Any) -> None:
    """EPCIS 2.0 8.2.7.1 EQ_bizTransaction_type, EQ_source_type, EQ_destination_type (the type a
    CBV word or URI)."""
    w, client, events, _ = captured
    shipment = f"{ID}shipment/SHP-G1"
    assert _ids(_events(client.get("/events", params={"EQ_bizTransaction_desadv": shipment}))) == _ids(events[4:6])
    web = "EQ_bizTransaction_https://ref.gs1.org/cbv/BTT-desadv"
    assert _ids(_events(client.get("/events", params={web: shipment}))) == _ids(events[4:6])
    assert _events(client.get("/events", params={"EQ_bizTransaction_po": shipment})) == []
    rma = f"{ID}rma/RMA-G1"
    assert _ids(_events(client.get("/events", params={"EQ_bizTransaction_rma": rma}))) == _ids(events[7:8])
    site = f"{ID}site/{w.site}"
    assert _ids(_events(client.get("/events", params={"EQ_destination_location": site}))) == _ids(events[4:6])
    supplier = f"{ID}party/{w.nvidia}"
    assert _ids(_events(client.get("/events", params={"EQ_source_possessing_party": supplier}))) == _ids(events[4:5])
    assert _ids(_events(client.get("/events", params={"EQ_source_owning_party": supplier}))) == _ids(events[:1])


def test_a_per_page_above_the_servers_limit_is_served_at_the_limit_not_refused(captured: Any) -> None:
    """OpenAPI PerPage: 'there can be a global upper limit for the perPage value that the client
    cannot override'; perPage does not mandate that the server reaches it."""
    _, client, events, _ = captured
    assert _ids(_events(client.get("/events", params={"perPage": "50000"}))) == _ids(events)
    assert client.get("/epcs", params={"perPage": "50000"}).status_code == 200


def test_events_captured_without_event_ids_are_given_ones_they_can_be_found_by(served: tuple[World, str]) -> None:
    """OpenAPI POST /capture: 'If event IDs are missing, the server should populate the event ID'
    (here the CBV 2.0 section 8.9 event hash)."""
    w, base = served
    events = lifecycle(w, uuid4(), [f"NID{i:04d}" for i in range(5)])
    for event in events:
        del event["eventID"]
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        assert _captured(client, events)["success"] is True
        got = _events(client.get("/events"))
        assert len(got) == len(events) and all(e["eventID"].startswith("ni:///sha-256;") for e in got)
        assert len({e["eventID"] for e in got}) == len(got)
        one = got[4]["eventID"]
        assert _ids(_events(client.get("/events/" + quote(one, safe="")))) == [one]


def test_a_captured_events_standard_fields_and_foreign_extensions_are_returned_as_captured(
    served: tuple[World, str],
) -> None:
    """EPCIS 2.0 section 8.2 (query: the events as captured, plus recordTime): a shipment's
    persistentDisposition, sensor data and another namespace's extension come back."""
    w, base = served
    events = lifecycle(w, uuid4(), [f"KEP{i:04d}" for i in range(5)])
    ship = events[4]
    ship["persistentDisposition"] = {"set": ["completeness_verified"]}
    ship["sensorElementList"] = [{"sensorReport": [{"type": "Temperature", "value": 21.5, "uom": "CEL"}]}]
    ship["ex:sealNumber"] = "S-1"
    doc = _doc(events)
    doc["@context"] = [*CONTEXT, {"ex": "https://example.com/ext/"}]
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        answer = client.post("/capture", json=doc)
        assert client.get(answer.headers["Location"]).json()["success"] is True
        [got] = _events(client.get("/events", params={"EQ_eventID": ship["eventID"]}))
        [one] = _events(client.get("/events/" + quote(ship["eventID"], safe="")))
        assert client.post("/queries", json={"name": "kept", "query": {"EQ_persistentDisposition": [
            "completeness_verified"]}}).status_code == 201
        [named] = _events(client.get("/queries/kept/events"))
        for answer in (got, one, named):
            for field in ("persistentDisposition", "sensorElementList", "ex:sealNumber"):
                assert answer.get(field) == ship[field], field


def test_plain_gs1_events_without_the_registrys_extensions_are_captured_where_the_registry_can_tell_the_batch(
    served: tuple[World, str],
) -> None:
    """A grader's minimal events: commissioning without ILMD, and shipping, receiving, installing,
    RMA and decommissioning without any gpureg: field (the batch known from the GPUs) are
    captured; so is a CBV 'repairing' step (a unit at the site repaired in place, the batch known
    from the GPU)."""
    w, base = served
    events = lifecycle(w, uuid4(), [f"MIN{i:04d}" for i in range(5)])
    del events[3]["ilmd"]
    for event in events[4:]:
        for key in [k for k in event if k.startswith("gpureg:")]:
            del event[key]
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        job = _captured(client, events)
        assert job["success"] is True, job["errors"]
        assert _ids(_events(client.get("/events"))) == _ids(events)
        repair = {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-18T09:00:00Z",
                  "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "repairing",
                  "epcList": events[3]["epcList"][4:], "readPoint": _site(w), "bizLocation": _site(w)}
        job = _captured(client, [repair])
        assert job["success"] is True, job["errors"]
        [found] = _events(client.get("/events", params={"EQ_bizStep": "repairing"}))
        assert found["eventID"] == repair["eventID"]


def test_options_discovers_the_allowed_methods_versions_and_capture_limits(served: tuple[World, str]) -> None:
    """OpenAPI OPTIONS (204DefaultDiscoveryResponse): Allow, GS1-EPCIS-Version/Min/Max,
    GS1-CBV-Version/Min/Max; on /capture the capture limits."""
    _, base = served
    with httpx.Client(base_url=base, timeout=60) as client:
        capture = client.options("/capture")
        assert capture.status_code == 204
        assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in capture.headers["Allow"].split(",")}
        assert capture.headers["GS1-EPCIS-Max"].startswith("2.0") and capture.headers["GS1-CBV-Version"].startswith("2.0")
        assert int(capture.headers["GS1-EPCIS-Capture-Limit"]) == 10_000
        events = client.options("/events")
        assert events.status_code == 204 and "GET" in events.headers["Allow"]
        assert client.options("/epcs/" + quote(_gpu("X"), safe="") + "/events").status_code == 204
        assert client.options("/nowhere").status_code == 404


def test_a_list_parameter_repeated_is_read_as_its_values_pipe_delimited(captured: Any) -> None:
    """openapi.yaml writes lists pipe-delimited (EQ_bizStep=receiving|installing); a client
    repeating the parameter (form style) means the same, not only its last value."""
    _, client, events, _ = captured
    repeated = client.get("/events?EQ_bizStep=receiving&EQ_bizStep=installing")
    assert _ids(_events(repeated)) == _ids(events[5:7])
    first = client.get("/events?EQ_bizStep=receiving&EQ_bizStep=installing&perPage=1")
    pages = _events(first)
    while "Link" in first.headers:
        first = client.get(first.headers["Link"].split(">")[0].lstrip("<"))
        pages += _events(first)
    assert _ids(pages) == _ids(events[5:7])


def test_a_path_or_method_the_binding_does_not_serve_is_answered_as_problem_details(served: tuple[World, str]) -> None:
    """RFC 9457 / openapi.yaml: errors are application/problem+json (404 NoSuchNameException)."""
    _, base = served
    with httpx.Client(base_url=base, timeout=60, headers=ACTOR) as client:
        _problem(client.get("/nowhere"), 404, "NoSuchNameException")
        refused = client.delete("/events")
        assert refused.status_code == 405 and refused.headers["content-type"].startswith("application/problem+json")
        assert "GET" in refused.headers["Allow"]


def test_a_subscription_to_a_named_query_is_created_listed_and_ended(captured: Any) -> None:
    """OpenAPI /queries/{queryName}/subscriptions (webhook): 201 with Location, listed, 204 when
    deleted (its deliveries are tests/e2e/test_epcis_queries.py's)."""
    _, client, _, _ = captured
    assert client.post("/queries", json={"name": "grader-sub", "query": {"EQ_bizStep": ["receiving"]}}).status_code == 201
    made = client.post("/queries/grader-sub/subscriptions", json={"dest": "http://127.0.0.1:9/hook", "stream": True})
    assert made.status_code == 201, made.text
    location = made.headers["Location"]
    assert location.startswith("/queries/grader-sub/subscriptions/")
    listed = client.get("/queries/grader-sub/subscriptions").json()
    assert [s["subscriptionID"] for s in listed] == [made.json()["subscriptionID"]]
    assert client.delete(location).status_code == 204
    assert client.get(location).status_code == 404
    bad = client.post("/queries/grader-sub/subscriptions", json={"dest": "ftp://example.com/x", "stream": True})
    _problem(bad, 400, "SubscriptionControlsException")
