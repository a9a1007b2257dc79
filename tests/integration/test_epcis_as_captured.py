"""EPCIS 2.0 section 8.2: a query returns the events as they were captured, with the repository's
``recordTime``; events the registry originated keep the registry's rendition (SQLite and
PostgreSQL)."""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

from registry.application.service import Registry
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.export import document
from registry.epcis.query import find_event, query_page
from registry.epcis.sources import batch_events, log_events, partner_events
from registry.security.scope import Scope, ScopeIndex
from tests.builders import World
from tests.epcis_support.gs1 import schema_errors
from tests.integration.test_epcis import NOW
from tests.integration.test_epcis_conformance import _shipment_document
from tests.integration.test_epcis_corrections import _pair_for

EX = {"ex": "https://example.com/ext/"}
UNMAPPED: dict[str, Any] = {
    "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
    "persistentDisposition": {"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
    "sensorElementList": [{"sensorMetadata": {"time": "2026-03-10T07:59:00-07:00"},
                           "sensorReport": [{"type": "Temperature", "value": 21.5, "uom": "CEL"}]}],
    "certificationInfo": "https://example.com/certificates/4711",
    "ex:sealNumber": "S-1",
    "ex:seal": {"ex:by": "customs", "ex:at": ["gate 4"]},
}


def _captured_shipment(world: World) -> tuple[dict[str, Any], UUID]:
    """A partner's shipment with the standard's fields the registry does not map and another
    namespace's extensions, spelled with a CBV URN and a recordTime of its own; captured."""
    doc, _ = _shipment_document(world, bizStep="urn:epcglobal:cbv:bizstep:shipping",
                                recordTime="2001-01-01T00:00:00Z", **copy.deepcopy(UNMAPPED))
    doc["@context"] = [*doc["@context"], EX]
    result = Capture(world.registry).capture("wms@nvidia", doc)
    assert result.errors == [] and result.counts() == {"written": 1}
    batch = result.outcomes[0].batch_id
    assert batch is not None
    return doc["epcisBody"]["eventList"][0], batch


def _as_captured(sent: dict[str, Any]) -> dict[str, Any]:
    """What a query answers for ``sent``: its content, CBV terms as the JSON binding spells them."""
    return {**{k: x for k, x in sent.items() if k != "recordTime"}, "bizStep": "shipping",  # a URN: its word
            "@context": EX}  # the document's prefix it uses, for JSON-LD (a web URI disposition: as given)


def _without_record_time(e: dict[str, Any]) -> dict[str, Any]:
    return {k: x for k, x in e.items() if k != "recordTime"}


def test_a_captured_events_unmapped_standard_fields_and_foreign_extensions_come_back_as_captured(
    registry: Registry, world: World
) -> None:
    sent, _ = _captured_shipment(world)

    [got] = [e for _, e in log_events(registry) if e["eventID"] == sent["eventID"]]

    assert _without_record_time(got) == _as_captured(sent)
    assert got["recordTime"] != sent["recordTime"] and got["recordTime"].startswith("20")  # the repository's
    assert schema_errors(document([got], NOW)) == []


def test_every_epcis_output_returns_the_captured_event_as_captured(registry: Registry, world: World) -> None:
    """The log, a batch's history, GET /events/{eventID}, a query's page and a partner's export."""
    sent, batch = _captured_shipment(world)
    want = _as_captured(sent)

    in_batch = [e for e in batch_events(registry, batch) if e["eventID"] == sent["eventID"]]
    found = find_event(registry, sent["eventID"])
    page, _ = query_page(registry, {"EQ_eventID": sent["eventID"]})
    partner = [e for e in partner_events(registry, world.nvidia) if e["eventID"] == sent["eventID"]]

    for answer in (in_batch, found, page, partner):
        assert [_without_record_time(e) for e in answer] == [want]


def test_query_parameters_select_on_the_captured_content_in_any_cbv_spelling(registry: Registry, world: World) -> None:
    sent, _ = _captured_shipment(world)

    for value in ("completeness_verified", "urn:epcglobal:cbv:disp:completeness_inferred",
                  "https://ref.gs1.org/cbv/Disp-completeness_verified|damaged"):
        page, _ = query_page(registry, {"EQ_persistentDisposition": value})
        assert [e["eventID"] for e in page] == [sent["eventID"]], value
    assert query_page(registry, {"EQ_persistentDisposition": "damaged"})[0] == []
    for params in ({"EQ_bizStep": "shipping"}, {"EQ_disposition": "in_transit"},
                   {"EQ_disposition": "urn:epcglobal:cbv:disp:in_transit"}):
        assert sent["eventID"] in [e["eventID"] for e in query_page(registry, params)[0]], params


def test_events_the_registry_originated_keep_the_registrys_rendition(registry: Registry, world: World) -> None:
    _captured_shipment(world)

    own = [e for _, e in log_events(registry) if e["eventID"] != "urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000001"]

    assert own and all(e["eventID"].startswith("ni:///sha-256;") and v.ext("registryEvent") in e for e in own)


def test_a_refused_capture_keeps_nothing_of_its_events(registry: Registry, world: World) -> None:
    doc, _ = _shipment_document(world, **copy.deepcopy(UNMAPPED))
    doc["@context"] = [*doc["@context"], EX]
    good = doc["epcisBody"]["eventList"][0]
    doc["epcisBody"]["eventList"].append({**good, "eventID": "urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000002",
                                          "bizStep": "flying"})
    head = registry.head()

    result = Capture(registry).capture("wms@nvidia", doc)

    assert [e.index for e in result.errors] == [1] and registry.head() == head
    assert Capture(registry).record(f"epcis:{good['eventID']}") is None


def test_a_partner_never_sees_another_partners_captured_event_and_its_own_comes_as_captured(registry: Registry, world: World) -> None:
    sent, _ = _captured_shipment(world)
    index = ScopeIndex(registry)
    index.refresh()
    naver, samsung = Scope.of(world.naver, index).sees_batch, Scope.of(world.samsung, index).sees_batch

    assert all(e["eventID"] != sent["eventID"] for e in partner_events(registry, world.naver))
    assert all(e["eventID"] != sent["eventID"] for _, e in log_events(registry, visible=naver))
    assert query_page(registry, {"EQ_eventID": sent["eventID"]}, visible=naver)[0] == []
    # the batch's buyer sees it, as captured, in the log confined to its batches
    [own] = [e for _, e in log_events(registry, visible=samsung) if e["eventID"] == sent["eventID"]]
    assert _without_record_time(own) == _as_captured(sent)


def test_an_error_declaration_of_a_captured_order_correction_returns_the_corrective_event_as_captured(
    registry: Registry, world: World
) -> None:
    batch: UUID = world.order(quantity=4)
    [ordered] = list(batch_events(registry, batch))
    declaration, corrective = _pair_for(ordered, po="PO-9", reason="the supplier's PO number")
    corrective["ex:approvedBy"] = "controller"
    corrective["certificationInfo"] = "https://example.com/certificates/po-9"
    doc = document([corrective, declaration], NOW)
    doc["@context"] = [*doc["@context"], EX]

    result = Capture(registry).capture("logistics@samsung", doc)

    assert result.errors == [] and registry.get_batch(batch).po_number == "PO-9"
    events = list(batch_events(registry, batch))
    assert [e["eventID"] for e in events] == [ordered["eventID"], ordered["eventID"], corrective["eventID"]]
    declared, got = events[1], events[2]
    assert declared["errorDeclaration"]["correctiveEventIDs"] == [corrective["eventID"]]
    assert _without_record_time(got) == {**_without_record_time(corrective), "@context": EX}
    assert schema_errors(document(events, NOW)) == []
