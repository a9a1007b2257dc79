"""The standard's own rules at capture (EPCIS 2.0 section 7.3-7.4, CBV 2.0 vocabularies), checked
before an event is mapped: a refusal names the field and the rule and writes nothing; every event
of GS1's own example documents passes them (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.event_rules import Refused, check_event
from registry.epcis.export import document
from registry.epcis.sources import batch_events
from tests.builders import World
from tests.epcis_support.gs1 import EXAMPLES, example, schema_errors
from tests.integration.test_epcis import NOW
from tests.integration.test_epcis_conformance import GS1_CONTEXT, _shipment_document

PARENT = "urn:epc:id:sscc:4012345.0000000001"
CHILD = "urn:epc:id:sgtin:4012345.011111.1"
CLASS = "urn:epc:class:lgtin:4012345.012345.998877"


@pytest.mark.parametrize("step", [
    "shipping", "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping",
])
def test_a_cbv_bizstep_bare_as_urn_or_as_web_uri_is_captured(registry: Registry, world: World, step: str) -> None:
    doc, _ = _shipment_document(world, bizStep=step, disposition="urn:epcglobal:cbv:disp:in_transit")

    result = Capture(registry).capture("wms@nvidia", doc)

    assert result.errors == [] and result.counts() == {"written": 1}


@pytest.mark.parametrize(
    ("change", "field", "rule", "schema_refuses"),
    [
        ({"bizStep": "flying"}, "bizStep", "cbv-vocabulary", True),
        ({"bizStep": "Shipping"}, "bizStep", "cbv-vocabulary", True),
        ({"bizStep": "urn:epcglobal:cbv:bizstep:flying"}, "bizStep", "cbv-vocabulary", True),
        ({"bizStep": "https://ref.gs1.org/cbv/BizStep-flying"}, "bizStep", "cbv-vocabulary", False),
        ({"bizStep": "urn:epcglobal:cbv:disp:in_transit"}, "bizStep", "cbv-vocabulary", True),
        ({"disposition": "lost_in_space"}, "disposition", "cbv-vocabulary", True),
        ({"disposition": "https://ref.gs1.org/cbv/Disp-lost"}, "disposition", "cbv-vocabulary", False),
        ({"persistentDisposition": {"set": ["not_a_disposition"]}}, "persistentDisposition.set[0]",
         "cbv-vocabulary", True),
        ({"persistentDisposition": {}}, "persistentDisposition", "persistent-disposition", True),
        ({"bizTransactionList": [{"type": "invoice", "bizTransaction": "urn:epcglobal:cbv:bt:1:2"}]},
         "bizTransactionList[0].type", "cbv-vocabulary", True),
        ({"bizTransactionList": [{"type": "po"}]}, "bizTransactionList[0].bizTransaction", "required", True),
        ({"destinationList": [{"type": "warehouse", "destination": "urn:epc:id:sgln:4012345.00001.0"}]},
         "destinationList[0].type", "cbv-vocabulary", True),
        ({"destinationList": [{"destination": "urn:epc:id:sgln:4012345.00001.0"}]}, "destinationList[0].type",
         "required", True),
        ({"readPoint": {"id": "not a uri"}}, "readPoint.id", "uri", True),
        ({"bizLocation": "urn:epc:id:sgln:4012345.00001.0"}, "bizLocation.id", "uri", True),
        ({"epcList": ["not a uri"]}, "epcList[0]", "uri", True),
        ({"epcList": None}, "epcList", "what-observed", True),
        ({"eventTime": "2026-03-10 08:00"}, "eventTime", "date-time", True),
        ({"eventTime": "2026-03-10T08:00:00"}, "eventTime", "date-time", True),
        ({"eventTime": "10/03/2026 08:00:00+01:00"}, "eventTime", "date-time", True),
        ({"ilmd": {"a": 1}}, "ilmd", "ilmd-on-add", True),
        ({"type": "SensorEvent"}, "type", "event-type", True),
    ],
)
def test_a_field_against_the_standard_or_its_vocabulary_is_refused_naming_it_and_nothing_is_written(
    registry: Registry, world: World, change: dict[str, Any], field: str, rule: str, schema_refuses: bool
) -> None:
    doc, _ = _shipment_document(world, **change)
    if schema_refuses:
        assert schema_errors(doc) != []  # GS1's schema refuses it too
    head = registry.head()

    result = Capture(registry).capture("wms@nvidia", doc)

    [error] = result.errors
    assert (error.index, error.field) == (0, field), error
    assert error.rule.startswith(f"rule {rule}"), error
    assert registry.head() == head


@pytest.mark.parametrize(
    ("element", "field", "rule", "schema_refuses"),
    [
        ({"quantity": 2}, "quantityList[0].epcClass", "required", True),
        ({"epcClass": "not a uri", "quantity": 2}, "quantityList[0].epcClass", "uri", True),
        ({"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "uom": "KGM"}, "quantityList[0].uom",
         "uom-with-quantity", False),
        ({"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": "2"}, "quantityList[0].quantity",
         "decimal", True),
        ({"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 2, "uom": "kilograms"},
         "quantityList[0].uom", "uom", True),
    ],
)
def test_a_quantity_element_names_its_class_and_quantity(
    registry: Registry, world: World, element: dict[str, Any], field: str, rule: str, schema_refuses: bool
) -> None:
    doc, _ = _shipment_document(world, epcList=None, quantityList=[element])
    if schema_refuses:
        assert schema_errors(doc) != []
    head = registry.head()

    [error] = Capture(registry).capture("wms@nvidia", doc).errors

    assert (error.field, error.rule.split(":")[0]) == (field, f"rule {rule}")
    assert registry.head() == head


def test_a_quantity_element_without_quantity_is_valid_epcis() -> None:
    """EPCIS 2.0 section 7.3.3.3: quantity is optional (unknown); the structural check passes it."""
    check_event(_event("ObjectEvent", action="OBSERVE", quantityList=[{"epcClass": CLASS}]))
    check_event(_event("AggregationEvent", action="ADD", parentID=PARENT, childQuantityList=[{"epcClass": CLASS}]))


def test_a_movement_of_an_unknown_quantity_is_refused_naming_why_the_registry_needs_it(
    registry: Registry, world: World
) -> None:
    batch = world.order(quantity=4)
    world.clear(batch, quantity=4)
    doc, _ = _shipment_document(world, epcList=None, quantityList=[{"epcClass": v.batch_class_uri(batch)}])
    assert schema_errors(doc) == []  # valid EPCIS
    head = registry.head()

    [error] = Capture(registry).capture("wms@nvidia", doc).errors

    assert error.field == "quantityList[0].quantity"
    assert error.rule.startswith("rule quantity-known: EPCIS allows an unknown quantity, but ship ")
    assert registry.head() == head


def test_a_clearance_grant_of_an_unknown_quantity_is_captured_as_a_grant_of_the_requested_quantity(
    registry: Registry, world: World
) -> None:
    """GrantClearance's quantity is optional (none: what was requested), so an unknown quantity
    maps; a request's is not (the licence must cover a number), and is refused naming why."""
    first = world.order(quantity=3)
    world.clear(first, quantity=3)
    events = document(batch_events(registry, first), NOW)["epcisBody"]["eventList"]
    second = world.order(quantity=5)

    def unknown(status: str) -> dict[str, Any]:
        [found] = [e for e in events if e.get(v.ext("clearance")) == status]
        event = {k: val for k, val in copy.deepcopy(found).items() if k not in ("eventID", "recordTime")}
        event[v.ext("batchID")] = str(second)
        event["quantityList"] = [{"epcClass": v.batch_class_uri(second)}]
        doc = {"@context": requested_context(), "type": "EPCISDocument", "schemaVersion": "2.0",
               "creationDate": "2026-03-10T16:00:00Z", "epcisBody": {"eventList": [event]}}
        assert schema_errors(doc) == []
        return doc

    [error] = Capture(registry).capture("officer@registry", unknown("requested")).errors
    assert (error.field, error.rule.split(":")[0]) == ("quantityList[0].quantity", "rule quantity-known")
    world.do("request_clearance", c.RequestClearance, batch_id=second, eccn="3A090.a", destination_country="KR",
             consignee_id=world.samsung, end_user_id=world.samsung, quantity=4, authorization_id=world.license)

    result = Capture(registry).capture("officer@registry", unknown("granted"))

    assert result.errors == [] and result.counts() == {"written": 1}
    clearance = registry.get_batch(second).clearance
    assert clearance.get("cleared_quantity") == 4, clearance


def requested_context() -> list[Any]:
    return [GS1_CONTEXT, {v.PREFIX: v.NAMESPACE}]


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "eventTime": "2026-03-10T08:00:00.000Z", "eventTimeZoneOffset": "+00:00", **fields}


@pytest.mark.parametrize(
    ("event", "field", "rule"),
    [
        (_event("AggregationEvent", action="ADD", childEPCs=[CHILD]), "parentID", "required"),
        (_event("AggregationEvent", action="DELETE"), "parentID", "required"),
        (_event("AggregationEvent", action="ADD", parentID=PARENT), "childEPCs", "children-named"),
        (_event("AggregationEvent", action="ADD", parentID="pallet 1", childEPCs=[CHILD]), "parentID", "uri"),
        (_event("AssociationEvent", action="ADD", childEPCs=[CHILD]), "parentID", "required"),
        (_event("TransformationEvent", outputEPCList=[CHILD]), "inputEPCList", "inputs-outputs"),
        (_event("TransformationEvent", inputEPCList=[CHILD]), "outputEPCList", "inputs-outputs"),
        (_event("TransformationEvent", transformationID="urn:epc:id:gdti:4012345.55555.1"), "inputEPCList",
         "inputs-outputs"),
        (_event("TransformationEvent", action="ADD", inputEPCList=[CHILD], outputEPCList=[PARENT]), "action",
         "no-action"),
        (_event("TransformationEvent", inputEPCList=[CHILD], outputQuantityList=[{"quantity": 1}]),
         "outputQuantityList[0].epcClass", "required"),
        (_event("TransactionEvent", action="ADD", bizTransactionList=[]), "bizTransactionList", "required"),
    ],
)
def test_each_event_types_own_fields_are_checked_naming_the_field(
    registry: Registry, event: dict[str, Any], field: str, rule: str
) -> None:
    doc = {"@context": [v.GS1_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2026-03-10T16:00:00Z", "epcisBody": {"eventList": [event]}}
    head = registry.head()

    [error] = Capture(registry).capture("wms@nvidia", doc).errors

    assert (error.field, error.rule.split(":")[0]) == (field, f"rule {rule}")
    assert registry.head() == head


def test_an_aggregation_observe_without_a_parent_passes_the_standards_rules() -> None:
    """EPCIS 2.0 section 7.4.3: parentID is optional with OBSERVE (the registry then maps no
    AggregationEvent, which is a refusal of its own, not the standard's)."""
    check_event(_event("AggregationEvent", action="OBSERVE", childEPCs=[CHILD]))


def test_a_bizstep_of_the_capturers_own_vocabulary_passes_the_vocabulary_rule(
    registry: Registry, world: World
) -> None:
    """CBV 2.0 allows a user vocabulary URI; the registry maps no command to it (refused as
    unsupported, not as a vocabulary error)."""
    doc, _ = _shipment_document(world, bizStep="https://example.com/steps/loading-dock-scan")
    assert schema_errors(doc) == []

    [error] = Capture(registry).capture("wms@nvidia", doc).errors

    assert error.field == "type" and error.rule.startswith("rule supported-event")


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.jsonld")))
def test_every_event_of_gs1s_example_documents_passes_the_standards_rules(name: str) -> None:
    body = example(name)["epcisBody"]
    events = body.get("eventList") or [body["event"]]
    for event in events:
        try:
            check_event(copy.deepcopy(event))
        except Refused as refused:  # pragma: no cover - the failure message
            pytest.fail(f"{name}: {refused}")
