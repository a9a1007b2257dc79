"""EPCIS 2.0 section 7.4.1.2: an error declaration of an event that is not an order's correction
(``did_not_occur``, ``incorrect_data`` of a shipment, or no reason) is recorded on the declared
event's batch (``declare_error``); the registry edits nothing, and a query returns the declared
event as it was and, at the declaration, the same event (same eventID) with its errorDeclaration."""

from __future__ import annotations

import copy
from typing import Any

from registry.application.service import Registry
from registry.domain.batch import GpuBatch
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.query import query_page
from registry.epcis.sources import batch_events
from tests.builders import World
from tests.epcis_support.gs1 import schema_errors
from tests.integration.test_epcis_conformance import _shipment_document

SHIPMENT_ID = "urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000001"  # _shipment_document's eventID


def _declared(doc: dict[str, Any], **declaration: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["epcisBody"]["eventList"][0]["errorDeclaration"] = {"declarationTime": "2026-03-11T10:00:00+01:00",
                                                             **declaration}
    return out


def test_a_captured_shipment_declared_did_not_occur_is_recorded_and_queried_with_its_declaration(
    registry: Registry, world: World
) -> None:
    doc, serials = _shipment_document(world)
    assert Capture(registry).capture("wms@nvidia", doc).accepted
    [shipped_position] = Capture(registry).capture("wms@nvidia", doc).outcomes
    batch_id = registry.claimed(serials[:1])[serials[0]]
    before = registry.get_batch(batch_id)
    declaration = _declared(doc, reason="did_not_occur")
    assert schema_errors(declaration) == []

    result = Capture(registry).capture("wms@nvidia", declaration)

    assert result.errors == [] and [(o.command, o.status) for o in result.outcomes] == [("declare_error", "written")]
    after = registry.get_batch(batch_id)
    assert (after.buckets, after.units, after.totals) == (before.buckets, before.units, before.totals)  # no edit
    [stored] = [e for _, e in registry.iter_log() if isinstance(e, GpuBatch.ErrorDeclared)]
    assert (stored.event_id, stored.reason, stored.corrective_event_ids) == (SHIPMENT_ID, "did_not_occur", [])
    history = [e for e in batch_events(registry, batch_id) if e["eventID"] == SHIPMENT_ID]
    original, declared = history
    assert "errorDeclaration" not in original
    assert declared["errorDeclaration"] == {"declarationTime": "2026-03-11T10:00:00.000+01:00", "reason": "did_not_occur"}
    assert {k: val for k, val in declared.items() if k not in ("errorDeclaration", "recordTime")} == {
        k: val for k, val in original.items() if k != "recordTime"}
    found, _ = query_page(registry, {"EXISTS_errorDeclaration": "", "perPage": "1000"})
    assert [e["eventID"] for e in found] == [SHIPMENT_ID]
    found, _ = query_page(registry, {"EQ_errorReason": "did_not_occur", "perPage": "1000"})
    assert len(found) == 1
    assert shipped_position.status == "replayed"

    head = registry.head()  # the same declaration again: answered from its record
    assert [o.status for o in Capture(registry).capture("wms@nvidia", declaration).outcomes] == ["replayed"]
    assert registry.head() == head


def test_another_declaration_of_the_same_event_and_unknown_events_are_refused_naming_the_rule(
    registry: Registry, world: World
) -> None:
    doc, _ = _shipment_document(world)
    assert Capture(registry).capture("wms@nvidia", doc).accepted
    assert Capture(registry).capture("wms@nvidia", _declared(doc, reason="did_not_occur")).accepted
    head = registry.head()

    [again] = Capture(registry).capture("wms@nvidia", _declared(doc, reason="incorrect_data")).errors
    unknown_doc = _declared(doc, reason="did_not_occur")
    unknown_doc["epcisBody"]["eventList"][0]["eventID"] = "urn:uuid:6f1d8e2a-1111-4c4c-8888-00000000ffff"
    [unknown] = Capture(registry).capture("wms@nvidia", unknown_doc).errors

    assert (again.field, again.rule.split(":")[0]) == ("eventID", "rule idempotency-key")
    assert (unknown.field, unknown.rule.split(":")[0]) == ("eventID", "rule error-declaration-unknown-event")
    assert registry.head() == head


def test_an_event_the_registry_recorded_from_its_api_is_declared_in_error_by_its_exported_event_id(
    registry: Registry, world: World
) -> None:
    batch = world.order(quantity=2)
    world.clear(batch, quantity=2)
    serials = world.serials(batch, n=2)
    world.ship(batch, serials=serials)
    [shipped] = [e for e in batch_events(registry, batch) if e.get("bizStep") == "shipping"]
    event = {k: val for k, val in shipped.items() if k != "recordTime"}
    event["errorDeclaration"] = {"declarationTime": "2026-03-20T10:00:00Z", "reason": "incorrect_data",
                                 "correctiveEventIDs": ["urn:uuid:6f1d8e2a-1111-4c4c-8888-0000000000aa"]}
    doc = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {v.PREFIX: v.NAMESPACE}],
           "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-20T10:00:00Z",
           "epcisBody": {"eventList": [event]}}

    result = Capture(registry).capture("logistics@nvidia", doc)

    assert result.errors == [] and result.outcomes[0].command == "declare_error"
    declared = [e for e in batch_events(registry, batch) if e["eventID"] == shipped["eventID"]]
    assert len(declared) == 2 and declared[1]["errorDeclaration"]["correctiveEventIDs"] == [
        "urn:uuid:6f1d8e2a-1111-4c4c-8888-0000000000aa"]


def test_a_partner_may_declare_in_error_only_what_it_may_record(registry: Registry, world: World) -> None:
    from registry.security.grants import command_authorizer
    from registry.security.principal import Principal, Role

    doc, _ = _shipment_document(world)
    assert Capture(registry).capture("wms@nvidia", doc).accepted
    partner = Principal("partner@samsung", Role.PARTNER, world.samsung)
    head = registry.head()

    [error] = Capture(registry).capture("partner@samsung", _declared(doc, reason="did_not_occur"),
                                        authorize=command_authorizer(partner, None)).errors

    assert (error.field, error.rule.split(":")[0]) == ("Ship", "rule access-matrix")
    assert registry.head() == head


def test_a_log_with_a_declaration_round_trips_into_a_fresh_registry(
    registry: Registry, world: World, tmp_path: Any
) -> None:
    """The declared event and its declaration in one document: the declaration finds the event
    earlier in the document; the fresh registry exports them with the same eventIDs."""
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from registry.epcis.export import document
    from registry.epcis.sources import log_events
    from tests.integration.test_epcis import NOW, copy_reference_data

    doc, _ = _shipment_document(world)
    assert Capture(registry).capture("wms@nvidia", doc).accepted
    assert Capture(registry).capture("wms@nvidia", _declared(doc, reason="did_not_occur")).accepted
    fresh = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))
    try:
        copy_reference_data(registry, fresh)
        exported = document([e for _, e in log_events(registry)], NOW)

        result = Capture(fresh).capture("wms@nvidia", exported)

        assert result.errors == [] and "declare_error" in [o.command for o in result.outcomes]
        again = [(e["eventID"], "errorDeclaration" in e) for _, e in log_events(fresh)]
        assert again == [(e["eventID"], "errorDeclaration" in e) for e in exported["epcisBody"]["eventList"]]
    finally:
        fresh.close()
