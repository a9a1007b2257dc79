"""The EPCIS 2.0 / CBV 2.0 gaps closed on 5 Dec 2026, over the running REST binding (one server
for the module): a repair (CBV ``repairing``) captured and queried, an event declared
``did_not_occur`` returned with its errorDeclaration, a quantity element without quantity (valid
EPCIS) refused only where the registry needs the count, EPC patterns in ``MATCH_`` parameters
(section 8.2.7.1.1), and openapi.yaml's default ``perPage`` of 30 with ``nextPageToken`` paging."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import grpc
import httpx
import pytest

from registry.api.v1 import commands_pb2 as pb
from registry.bootstrap import build_epcis_http
from registry.config import Settings
from registry.epcis.http import EpcisHttpServer
from tests.builders import World, make_world
from tests.e2e.conftest import RunningServer
from tests.e2e.test_epcis_independent import ACTOR, ID, _captured, _events, _gpu, _problem, _site, _uid, lifecycle

BATCHES = 4  # 4 lifecycles of 9 events (and a repair, a declaration): more than one default page


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path: Path = tmp_path_factory.mktemp("epcis-gaps")
    server = RunningServer(Settings(database_url=f"sqlite:///{path}/registry.db", listen="127.0.0.1:0",
                                    projection_process=False, subscription_poll_seconds=0.2)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served(running: RunningServer) -> Iterator[tuple[World, httpx.Client, list[list[Any]]]]:
    server = running
    http: EpcisHttpServer = build_epcis_http(server.server, 0)
    try:
        port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
        world = make_world(server.registry)
        histories = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, headers=ACTOR) as client:
            for n in range(BATCHES):
                events = lifecycle(world, uuid4(), [f"GAP{n}{i:03d}" for i in range(5)])
                job = _captured(client, events)
                assert job["success"] is True, job["errors"]
                histories.append(events)
            yield world, client, histories
    finally:
        asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def test_without_per_page_a_page_holds_openapi_yamls_default_30_and_the_token_pages_on(served: Any) -> None:
    _, client, _ = served
    everything = _events(client.get("/events", params={"perPage": "1000"}))
    assert len(everything) > 30
    first = client.get("/events")
    assert len(_events(first)) == 30 and 'rel="next"' in first.headers["Link"]
    got = _events(first)
    link = first.headers["Link"]
    while link:
        page = client.get(link.split(">")[0].lstrip("<"))
        got += _events(page)
        link = page.headers.get("Link", "")
    assert [e["eventID"] for e in got] == [e["eventID"] for e in everything]


def test_a_repair_is_captured_as_bizstep_repairing_and_queried_back(served: Any) -> None:
    """CBV 2.0 repairing: a unit under an RMA (the lifecycle's fourth serial, returned and
    decommissioned) cannot come back; the fifth, returned now, comes back repaired at the site."""
    world, client, histories = served
    events = histories[0]
    batch = events[0]["gpureg:batchID"]
    serial = events[3]["epcList"][4]
    rma = {"type": "rma", "bizTransaction": f"{ID}rma/RMA-GAP"}
    returned = {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-18T09:00:00.000Z",
                "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "shipping", "disposition": "returned",
                "epcList": [serial], "bizTransactionList": [rma], "gpureg:rmaNumber": "RMA-GAP", "gpureg:batchID": batch}
    repaired = {"type": "ObjectEvent", "eventID": _uid(), "eventTime": "2026-03-25T09:00:00.000Z",
                "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "repairing",
                "disposition": "in_progress", "epcList": [serial], "bizLocation": _site(world), "readPoint": _site(world),
                "bizTransactionList": [rma], "gpureg:note": "board replaced"}
    job = _captured(client, [returned, repaired])
    assert job["success"] is True, job["errors"]

    [found] = _events(client.get("/events", params={"EQ_bizStep": "repairing", "MATCH_epc": serial}))
    assert found["eventID"] == repaired["eventID"] and found["bizStep"] == "repairing"
    assert [e["eventID"] for e in _events(client.get("/bizSteps/repairing/events"))] == [repaired["eventID"]]
    gone = events[3]["epcList"][3]  # decommissioned: nothing to repair
    again = {**repaired, "eventID": _uid(), "epcList": [gone]}
    job = _captured(client, [again])
    assert job["success"] is False and "state-transition" in job["errors"][0]["rule"], job


def test_an_event_declared_did_not_occur_is_returned_with_its_error_declaration(served: Any) -> None:
    """EPCIS 2.0 7.4.1.2: the installation stays in the log as captured; the declaration repeats
    it (same eventID) with errorDeclaration; EXISTS_errorDeclaration / EQ_errorReason select it."""
    _, client, histories = served
    installed = histories[1][6]
    declaration = {**installed, "errorDeclaration": {"declarationTime": "2026-03-30T09:00:00.000Z",
                                                     "reason": "did_not_occur"}}
    job = _captured(client, [declaration])
    assert job["success"] is True, job["errors"]

    original, declared = _events(client.get("/events/" + quote(installed["eventID"], safe="")))
    assert "errorDeclaration" not in original
    assert declared["errorDeclaration"]["reason"] in ("did_not_occur", "https://ref.gs1.org/cbv/ER-did_not_occur")
    assert declared["eventID"] == installed["eventID"]
    selected = _events(client.get("/events", params={"EQ_errorReason": "did_not_occur"}))
    assert [e["eventID"] for e in selected] == [installed["eventID"]]
    # the same declaration again: replayed; a declaration of an event nobody captured: refused
    assert _captured(client, [declaration])["success"] is True
    unknown = {**declaration, "eventID": _uid()}
    job = _captured(client, [unknown])
    assert job["success"] is False and "error-declaration-unknown-event" in job["errors"][0]["rule"]


def test_a_quantity_element_without_quantity_is_valid_epcis_refused_only_where_a_count_is_needed(
    served: Any,
) -> None:
    """EPCIS 2.0 7.3.3.3: quantity optional, uom only with a quantity. An order without one is
    refused by the registry's rule (it orders a number of GPUs), not as invalid EPCIS."""
    world, client, _ = served
    [order] = lifecycle(world, uuid4(), ["QTY0001"])[:1]
    del order["quantityList"][0]["quantity"]
    job = _captured(client, [order])
    assert job["success"] is False
    [error] = job["errors"]
    assert error["field"] == "quantityList[0].quantity" and error["rule"].startswith("rule quantity-known"), error
    order = {**order, "eventID": _uid(), "quantityList": [{**order["quantityList"][0], "uom": "KGM"}]}
    [error] = _captured(client, [order])["errors"]
    assert error["field"] == "quantityList[0].uom" and error["rule"].startswith("rule uom-with-quantity"), error


def test_match_parameters_take_epc_patterns_and_refuse_a_malformed_one(served: Any) -> None:
    """EPCIS 2.0 8.2.7.1.1: an EPC pattern is a valid MATCH_ value (no event of this registry names
    an SGTIN, so it selects none); a pattern off the grammar is a QueryParameterException."""
    _, client, histories = served
    for name in ("MATCH_epc", "MATCH_anyEPC", "MATCH_parentID", "MATCH_inputEPC", "MATCH_epcClass"):
        assert _events(client.get("/events", params={name: "urn:epc:idpat:sgtin:0614141.107346.*"})) == []
        body = _problem(client.get("/events", params={name: "urn:epc:idpat:sgtin:0614141.*.7"}), 400,
                        "QueryParameterException")
        assert name in str(body)
    serial = histories[2][3]["epcList"][0]  # an exact identifier still matches, beside a pattern
    found = _events(client.get("/events", params={"MATCH_epc": f"urn:epc:idpat:sgtin:0614141.107346.*|{serial}"}))
    assert found and all(serial in e.get("epcList", []) for e in found)
    assert _gpu("none") not in str(found)


def test_the_repair_rpc_records_an_on_site_repair_that_epcis_exports_as_repairing(
    served: Any, running: RunningServer
) -> None:
    """The gRPC command API's Repair (a row of the role x method matrix): an empty site_id is no
    site; the repair is exported with bizStep repairing, at the units' site."""
    world, client, histories = served
    events = histories[3]
    serial = events[3]["epcList"][0]  # installed at world.site
    batch = events[0]["gpureg:batchID"]
    api = running.stubs()
    done = api.commands.Repair(pb.RepairRequest(request_id=_uid(), batch_id=batch, kind="on_site",
                                                serials=[serial.rsplit("/", 1)[1]], note="fan"),
                               metadata=[("x-gpureg-actor", "ops@grader")])
    assert done.aggregate_id == batch and not done.replayed
    [found] = _events(client.get("/events", params={"EQ_bizStep": "repairing", "MATCH_epc": serial}))
    assert found["gpureg:repair"] == "on_site" and found["bizLocation"] == _site(world)
    with pytest.raises(grpc.RpcError) as refused:
        api.commands.Repair(pb.RepairRequest(request_id=_uid(), batch_id=batch, kind="from_rma",
                                             serials=[serial.rsplit("/", 1)[1]]),
                            metadata=[("x-gpureg-actor", "ops@grader")])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "site_id" in (refused.value.details() or "")
