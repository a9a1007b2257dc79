"""An independent conformance review of the registry's EPCIS 2.0 / CBV 2.0 binding, as tests.

Each test cites the part of the standard it checks: GS1 EPCIS 2.0 (sections 7.3 and 7.4, the
event types and their fields; 9.1, the EPCISDocument) as GS1's JSON schema states it
(tests/data/epcis/EPCIS-JSON-Schema.json), and CBV 2.0 (its vocabularies; section 8.9, the event
hash). Where the registry disagreed with the standard the code was fixed and the test pins the fix.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.domain.batch import GpuBatch
from registry.domain.errors import InvalidField
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.event_hash import event_id
from registry.epcis.export import document
from registry.epcis.sources import batch_events, log_events
from tests.builders import World
from tests.epcis_support.gs1 import DATA, example, schema_errors
from tests.integration.test_epcis import NOW, full_history

EVENT_TYPES = {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
OFFSET = re.compile(r"^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _when(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert when.tzinfo is not None, text
    return when


def _schema_enum(name: str) -> set[str]:
    schema = json.loads((DATA / "EPCIS-JSON-Schema.json").read_text())
    [listed] = [alt["enum"] for alt in schema["definitions"][name]["anyOf"] if "enum" in alt]
    return set(listed)


def _shipment_document(w: World, **event_changes: Any) -> tuple[dict[str, Any], list[str]]:
    """A partner's hand-written shipping event for a cleared batch with registered serials."""
    batch = w.order(quantity=2)
    w.clear(batch, quantity=2)
    serials = w.serials(batch, n=2)
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000001",
        "action": "OBSERVE",
        "eventTime": "2026-03-10T08:00:00-07:00",
        "eventTimeZoneOffset": "-07:00",
        "epcList": [v.gpu_uri(s) for s in serials],
        "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping",
        "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
        "bizTransactionList": [{"type": "desadv", "bizTransaction": v.shipment_uri("ASN-1")}],
        "destinationList": [{"type": "location", "destination": v.site_uri(w.site)}],
    }
    event.update(event_changes)
    doc = {
        "@context": [GS1_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-10T16:00:00Z",
        "epcisBody": {"eventList": [{k: val for k, val in event.items() if val is not None}]},
    }
    return doc, serials


# ------------------------------------------------------------------------------------ export
def test_an_exported_document_has_the_epcisdocument_header_of_epcis_2_0_section_9_1(
    registry: Registry, world: World
) -> None:
    a, _ = full_history(world)
    doc = document(batch_events(registry, a), NOW)
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert doc["@context"][0] == GS1_CONTEXT  # GS1's context first, then the gpureg prefix
    assert _when(doc["creationDate"]) == NOW
    assert schema_errors(doc) == []


def test_every_exported_event_has_the_fields_epcis_2_0_section_7_4_requires_of_its_type(
    registry: Registry, world: World
) -> None:
    full_history(world)
    events = [e for _, e in log_events(registry)]
    assert {e["type"] for e in events} == {"ObjectEvent", "TransactionEvent"}  # the kinds the registry has
    for e in events:
        assert e["type"] in EVENT_TYPES
        when = _when(e["eventTime"])
        # eventTimeZoneOffset is the offset in force where and when the event occurred: eventTime's own
        assert OFFSET.match(e["eventTimeZoneOffset"]) and when.strftime("%z")[:3] == e["eventTimeZoneOffset"][:3]
        assert _when(e["recordTime"]) >= when - timedelta(days=3650)  # present on every query result
        assert e["action"] in ("ADD", "OBSERVE", "DELETE")  # required of Object and Transaction events
        if e["type"] == "TransactionEvent":
            assert e["bizTransactionList"], e  # required of a TransactionEvent (7.4.4)
        # what: instances or a class quantity; a DELETE naming neither ends the transaction for all
        # its objects (7.4.4: a denied or revoked clearance)
        assert e.get("epcList") or e.get("quantityList") or e["action"] == "DELETE", e
        # eventID: the CBV 2.0 section 8.9 event hash of the event itself, as a ni: URI
        assert re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", e["eventID"])
        assert e["eventID"] == event_id(e, {v.PREFIX: v.NAMESPACE})
    assert len({e["eventID"] for e in events}) == len(events)  # unique


def test_exported_cbv_terms_are_the_cbv_2_0_words_and_identifiers_are_uris(registry: Registry, world: World) -> None:
    full_history(world)
    for e in (e for _, e in log_events(registry)):
        assert e.get("bizStep", "shipping") in v.BIZ_STEPS
        assert e.get("disposition", "active") in v.DISPOSITIONS
        for t in e.get("bizTransactionList", []):
            assert t["type"] in v.BTT_TYPES or t["type"].startswith(v.NAMESPACE), t
            assert URI.match(t["bizTransaction"])
        for entry in [*e.get("sourceList", []), *e.get("destinationList", [])]:
            assert entry["type"] in v.SOURCE_DEST_TYPES  # owning_party, possessing_party, location
            assert URI.match(entry.get("source", entry.get("destination", "")))
        for where in ("readPoint", "bizLocation"):
            if where in e:
                assert URI.match(e[where]["id"])
        assert all(URI.match(epc) for epc in e.get("epcList", []))
        for q in e.get("quantityList", []):  # a count of GPUs: a whole quantity, no unit of measure
            assert URI.match(q["epcClass"]) and isinstance(q["quantity"], int) and "uom" not in q


def test_the_registrys_cbv_vocabularies_are_exactly_the_cbv_2_0_terms_gs1s_schema_lists() -> None:
    assert _schema_enum("bizStep") == v.BIZ_STEPS
    assert _schema_enum("disposition") == v.DISPOSITIONS
    assert _schema_enum("bizTransaction-type") == v.BTT_TYPES
    assert _schema_enum("source-dest-type") == v.SOURCE_DEST_TYPES
    assert _schema_enum("error-reason") == v.ERROR_REASONS
    # bare words, CBV URNs and web vocabulary URIs are one term (CBV 2.0 section 6; JSON binding)
    for kind, word, web in (
        ("bizStep", "shipping", "https://ref.gs1.org/cbv/BizStep-shipping"),
        ("disposition", "in_transit", "https://ref.gs1.org/cbv/Disp-in_transit"),
        ("btt", "desadv", "https://ref.gs1.org/cbv/BTT-desadv"),
        ("sdt", "possessing_party", "https://ref.gs1.org/cbv/SDT-possessing_party"),
        ("er", "incorrect_data", "https://ref.gs1.org/cbv/ER-incorrect_data"),
    ):
        assert v.cbv_term(kind, web) == word and v.cbv_web_uri(kind, word) == web


def test_a_later_correction_is_a_new_fact_and_never_changes_an_exported_event(
    registry: Registry, world: World
) -> None:
    """EPCIS 2.0 section 7.4.1.2: what was recorded stays as it was. A corrected PO number must
    not change the events exported before it, nor give one event two eventIDs depending on
    where an export starts (the bug this pins: a whole-history export kept the old PO number on
    later events, an export starting after the correction the new one)."""
    a = world.order(quantity=4)
    world.clear(a, quantity=4)
    serials = world.serials(a, n=4)
    before = list(batch_events(registry, a))
    world.do("correct_order", c.CorrectOrder, batch_id=a, po_number="PO-2026-0001-R", reason="typo",
             occurred_at=datetime(2026, 3, 5, tzinfo=UTC))
    start = registry.head()
    world.ship(a, serials=serials)

    after = list(batch_events(registry, a))
    assert after[: len(before)] == before  # nothing exported before is edited
    shipped_whole = after[-1]
    [(_, shipped_tail)] = list(log_events(registry, after=start))
    assert shipped_whole == shipped_tail  # one event, one content, one eventID
    assert {"type": "po", "bizTransaction": v.po_uri("PO-2026-0001-R")} in shipped_whole["bizTransactionList"]


def test_the_event_hash_leaves_out_record_time_event_id_and_error_declaration_cbv_8_9() -> None:
    """So an error declaration has the eventID of the event it declares in error."""
    event = example("Example_9.6.1-ObjectEvent-with-error-declaration.jsonld")["epcisBody"]["eventList"][0]
    original = {k: val for k, val in event.items() if k != "errorDeclaration"}
    assert event_id(event) == event_id({**original, "recordTime": "2030-01-01T00:00:00Z"}) == event_id(original)


# ----------------------------------------------------------------------------------- capture
def test_a_partners_event_with_a_uuid_event_id_and_cbv_web_uris_is_captured_once(
    registry: Registry, world: World
) -> None:
    """eventID may be any URI (a ni: hash or a urn:uuid:); a second capture is idempotent."""
    doc, _ = _shipment_document(world)
    assert schema_errors(doc) == []
    first = Capture(registry).capture("wms@nvidia", doc)
    assert first.errors == [] and first.counts() == {"written": 1}
    head = registry.head()
    again = Capture(registry).capture("wms@nvidia", copy.deepcopy(doc))
    assert again.counts() == {"replayed": 1} and registry.head() == head


def test_a_captured_record_time_is_ignored_and_the_registry_records_its_own_epcis_7_4_1(
    registry: Registry, world: World
) -> None:
    """recordTime "SHALL be ignored when an event is presented to the capture interface"."""
    doc, _ = _shipment_document(world, recordTime="2001-01-01T00:00:00Z")
    started = datetime.now(UTC)
    assert Capture(registry).capture("wms@nvidia", doc).accepted
    shipped = next(e for _, e in log_events(registry) if e.get("bizStep") == "https://ref.gs1.org/cbv/BizStep-shipping")
    assert _when(shipped["recordTime"]) >= started - timedelta(seconds=5)
    assert _when(shipped["eventTime"]) == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert shipped["eventTimeZoneOffset"] == "-07:00"  # the offset where it occurred, as captured


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"eventTimeZoneOffset": None}, "eventTimeZoneOffset", "required"),
        ({"eventTimeZoneOffset": "+9:00"}, "eventTimeZoneOffset", "time-zone-offset"),
        ({"eventTimeZoneOffset": "+15:00"}, "eventTimeZoneOffset", "time-zone-offset"),
        ({"eventTime": None}, "eventTime", "required"),
        ({"eventTime": "2026-03-10T08:00:00"}, "eventTime", "date-time"),
        ({"action": None}, "action", "required"),
        ({"action": "MOVE"}, "action", "action"),
        ({"eventID": "not a uri"}, "eventID", "uri"),
        ({"type": "TransactionEvent", "action": "DELETE", "bizTransactionList": None}, "bizTransactionList", "required"),
        ({"type": "AggregationEvent", "action": None}, "action", "required"),
        ({"type": "AssociationEvent", "action": None}, "action", "required"),
        ({"type": "TransformationEvent", "action": None}, "inputEPCList", "inputs-outputs"),  # it has no action
    ],
)
def test_an_event_without_a_field_epcis_2_0_requires_is_refused_naming_it_and_nothing_is_written(
    registry: Registry, world: World, change: dict[str, Any], field: str, rule: str
) -> None:
    doc, _ = _shipment_document(world, **change)
    assert schema_errors(doc) != []  # GS1's schema refuses it too
    head = registry.head()

    result = Capture(registry).capture("wms@nvidia", doc)

    [error] = result.errors
    assert (error.index, error.field) == (0, field) and error.rule.startswith(f"rule {rule}")
    assert registry.head() == head


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schemaVersion": None}, "schemaVersion"),
        ({"schemaVersion": "1.2"}, "schemaVersion"),
        ({"creationDate": None}, "creationDate"),
        ({"creationDate": "yesterday"}, "creationDate"),
        ({"@context": None}, "@context"),
    ],
)
def test_a_document_without_the_header_epcis_2_0_requires_is_refused_whole_naming_the_field(
    registry: Registry, world: World, change: dict[str, Any], field: str
) -> None:
    doc, _ = _shipment_document(world)
    for name, value in change.items():
        if value is None:
            del doc[name]
        else:
            doc[name] = value
    head = registry.head()

    with pytest.raises(InvalidField) as refused:
        Capture(registry).capture("wms@nvidia", doc)

    assert [f for f, _ in refused.value.violations] == [field]
    assert registry.head() == head


def test_an_error_declaration_is_recorded_as_a_declaration_and_never_as_the_event_again(
    registry: Registry, world: World
) -> None:
    """EPCIS 2.0 section 7.4.1.2: an event with an errorDeclaration says an earlier event with
    the same content was in error. Before the first fix the registry captured it as the event
    itself (a second shipment); then it refused every declaration but an order's. Now a
    shipment's ``did_not_occur`` is recorded as a declaration on the batch (``declare_error``,
    tests/integration/test_epcis_error_declarations.py): nothing is edited, the shipment stands."""
    doc, _ = _shipment_document(world)
    assert Capture(registry).capture("wms@nvidia", doc).accepted
    declared = copy.deepcopy(doc)
    declared["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2026-03-11T09:00:00Z",
        "reason": "did_not_occur",
        "correctiveEventIDs": ["urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000002"],
    }
    assert schema_errors(declared) == []

    result = Capture(registry).capture("wms@nvidia", declared)

    assert result.errors == [] and [(o.command, o.status) for o in result.outcomes] == [("declare_error", "written")]
    shipments = [e for _, e in registry.iter_log() if isinstance(e, GpuBatch.Shipped)]
    assert len(shipments) == 1  # the original fact stands, unedited
    [recorded] = [e for _, e in registry.iter_log() if isinstance(e, GpuBatch.ErrorDeclared)]
    assert recorded.corrective_event_ids == ["urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000002"]


@pytest.mark.parametrize(
    ("declaration", "field"),
    [
        ({"reason": "incorrect_data"}, "errorDeclaration.declarationTime"),
        ({"declarationTime": "soon"}, "errorDeclaration.declarationTime"),
        ({"declarationTime": "2026-03-11T09:00:00Z", "reason": "oops"}, "errorDeclaration.reason"),
        ({"declarationTime": "2026-03-11T09:00:00Z", "correctiveEventIDs": "x"}, "errorDeclaration.correctiveEventIDs"),
        ("not an object", "errorDeclaration"),
    ],
)
def test_a_malformed_error_declaration_is_refused_naming_its_field(
    registry: Registry, world: World, declaration: Any, field: str
) -> None:
    doc, _ = _shipment_document(world, errorDeclaration=declaration)
    head = registry.head()
    [error] = Capture(registry).capture("wms@nvidia", doc).errors
    assert error.field == field and registry.head() == head


def test_gs1s_error_declaration_example_is_refused_event_by_event(registry: Registry) -> None:
    """GS1's example declares an event this registry never captured: refused naming its eventID."""
    doc = example("Example_9.6.1-ObjectEvent-with-error-declaration.jsonld")
    assert schema_errors(doc) == []
    head = registry.head()
    result = Capture(registry).capture("partner@example", doc)
    first = result.errors[0]
    assert (first.index, first.field) == (0, "eventID") and "error-declaration-unknown-event" in first.rule
    assert len(result.errors) == 2  # the receipt after it is refused for its GS1 keys
    assert registry.head() == head


def test_two_events_with_one_event_id_and_different_contents_are_refused_before_anything_is_written(
    registry: Registry, world: World
) -> None:
    """eventID is unique to one event (EPCIS 2.0 section 7.4.1). Before the fix the check pass
    let both through and the write pass wrote the first, then refused the second."""
    doc, _ = _shipment_document(world)
    shipped = doc["epcisBody"]["eventList"][0]
    common = {k: shipped[k] for k in ("type", "eventID", "action", "eventTime", "eventTimeZoneOffset")}
    doc["epcisBody"]["eventList"] = [
        {**common, "disposition": "stolen", "epcList": shipped["epcList"][:1]},
        {**common, "disposition": "stolen", "epcList": shipped["epcList"][1:]},
    ]
    head = registry.head()

    result = Capture(registry).capture("dc@samsung", doc)

    [error] = result.errors
    assert (error.index, error.field) == (1, "eventID") and "idempotency-key" in error.rule
    assert registry.head() == head
    # the same event twice in one document is one event: written once
    doc["epcisBody"]["eventList"] = [doc["epcisBody"]["eventList"][0]] * 2
    assert Capture(registry).capture("dc@samsung", doc).counts() == {"written": 1, "replayed": 1}
