"""A captured event keeps the eventID its capturer gave it (EPCIS 2.0 section 7.4.1: the eventID
identifies the event wherever it goes): exported, queried and looked up under that eventID, and
captured again idempotently (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from uuid import UUID

from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.event_hash import event_id
from registry.epcis.export import document
from registry.epcis.query import find_event, query_page
from registry.epcis.sources import batch_events, log_events
from tests.builders import World
from tests.epcis_support.gs1 import schema_errors
from tests.integration.test_epcis import NOW
from tests.integration.test_epcis_conformance import _shipment_document

PARTNERS_ID = "urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000001"


def _shipped(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if v.cbv_term("bizStep", str(e.get("bizStep", ""))) == "shipping"]  # as captured


def test_a_partners_event_is_exported_queried_and_found_under_the_partners_own_event_id(
    registry: Registry, world: World
) -> None:
    doc, _ = _shipment_document(world)
    result = Capture(registry).capture("wms@nvidia", doc)
    assert result.accepted
    batch = result.outcomes[0].batch_id
    assert batch is not None

    [exported] = _shipped(list(batch_events(registry, batch)))
    assert exported["eventID"] == PARTNERS_ID
    assert [e["eventID"] for e in _shipped([e for _, e in log_events(registry)])] == [PARTNERS_ID]
    page, _ = query_page(registry, {"EQ_eventID": PARTNERS_ID})
    assert [e["eventID"] for e in page] == [PARTNERS_ID]
    assert [e["eventID"] for e in find_event(registry, PARTNERS_ID)] == [PARTNERS_ID]
    assert schema_errors(document([exported], NOW)) == []


def test_the_same_document_captured_again_is_accepted_without_a_second_write_and_exported_the_same(
    registry: Registry, world: World
) -> None:
    doc, _ = _shipment_document(world)
    first = Capture(registry).capture("wms@nvidia", doc)
    batch = first.outcomes[0].batch_id
    assert batch is not None
    exported = list(batch_events(registry, batch))
    head = registry.head()

    again = Capture(registry).capture("wms@nvidia", copy.deepcopy(doc))

    assert again.accepted and again.counts() == {"replayed": 1} and again.errors == []
    assert registry.head() == head
    assert [e["eventID"] for e in batch_events(registry, batch)] == [e["eventID"] for e in exported]


def test_an_event_captured_without_an_event_id_is_exported_under_the_hash_of_the_event_as_captured(
    registry: Registry, world: World
) -> None:
    doc, _ = _shipment_document(world, eventID=None)
    sent = doc["epcisBody"]["eventList"][0]
    expected = event_id(sent, {})
    result = Capture(registry).capture("wms@nvidia", doc)
    assert result.accepted and result.outcomes[0].event_id == expected
    batch = result.outcomes[0].batch_id
    assert batch is not None

    [exported] = _shipped(list(batch_events(registry, batch)))

    assert exported["eventID"] == expected


def test_a_history_captured_into_another_registry_is_exported_there_with_the_same_event_ids(
    registry: Registry, world: World, tmp_path: Path
) -> None:
    from tests.integration.test_epcis import copy_reference_data, full_history

    a, _ = full_history(world)
    source = list(batch_events(registry, a))
    target = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/target.db"))
    try:
        copy_reference_data(registry, target)
        assert Capture(target).capture("partner", document(source, NOW)).accepted
        assert [e["eventID"] for e in batch_events(target, a)] == [e["eventID"] for e in source]
    finally:
        target.close()


def test_an_event_id_too_long_to_keep_whole_is_refused_naming_it_and_nothing_is_written(
    registry: Registry, world: World
) -> None:
    doc, _ = _shipment_document(world, eventID="urn:uuid:" + "a" * 200)
    head = registry.head()

    [error] = Capture(registry).capture("wms@nvidia", doc).errors

    assert error.field == "eventID" and error.rule.startswith("rule event-id-length")
    assert registry.head() == head


def test_a_partners_order_and_its_correction_keep_their_event_ids_in_the_declaration(
    registry: Registry, world: World
) -> None:
    """The order a partner captured under its eventID is declared in error under that eventID,
    and the corrective event keeps the partner's eventID too."""
    batch = world.order(quantity=2)
    [order] = list(batch_events(registry, batch))
    target_doc = copy.deepcopy(order)
    fresh_batch = "7a5e1c3e-0000-4000-8000-00000000b0b0"
    target_doc[v.ext("batchID")] = fresh_batch
    target_doc["eventID"] = "urn:uuid:00000000-0000-0000-0000-000000000001"
    target_doc[v.ext("poNumber")] = "PO-PARTNER-1"
    target_doc["bizTransactionList"] = [{"type": "po", "bizTransaction": v.po_uri("PO-PARTNER-1")}]
    target_doc["quantityList"] = [{"epcClass": v.batch_class_uri(UUID(fresh_batch)), "quantity": 2}]
    corrective = copy.deepcopy(target_doc)
    corrective["eventID"] = "urn:uuid:00000000-0000-0000-0000-000000000002"
    corrective[v.ext("poNumber")] = "PO-PARTNER-1-R"
    corrective["bizTransactionList"] = [{"type": "po", "bizTransaction": v.po_uri("PO-PARTNER-1-R")}]
    declaration = copy.deepcopy(target_doc)
    declaration["errorDeclaration"] = {"declarationTime": "2026-03-05T10:00:00Z", "reason": "incorrect_data",
                                       "correctiveEventIDs": [corrective["eventID"]]}
    for e in (target_doc, corrective, declaration):
        e.pop("recordTime", None)
    result = Capture(registry).capture("partner", document([target_doc, declaration, corrective], NOW))
    assert result.accepted, result.errors

    exported = [e for e in log_events(registry) if e[1].get(v.ext("batchID")) == fresh_batch]
    ids = [(e["eventID"], "errorDeclaration" in e) for _, e in exported]
    assert ids == [(target_doc["eventID"], False), (target_doc["eventID"], True), (corrective["eventID"], False)]
    assert exported[1][1]["errorDeclaration"]["correctiveEventIDs"] == [corrective["eventID"]]
