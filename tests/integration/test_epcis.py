"""EPCIS 2.0 export and capture on a registry (SQLite and PostgreSQL).

One history uses every batch event the export translates (a serialized batch from order to
decommission, a quantity-only batch with a denied, granted and revoked clearance). Its documents
must validate against GS1's schema, carry the eventIDs GS1's reference implementation computes,
and, captured into a fresh registry with the same reference data, give the same batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from registry.application import commands as c
from registry.application.service import REFERENCE_COMMANDS, Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.batch import GpuBatch
from registry.epcis.capture import Capture
from registry.epcis.export import document
from registry.epcis.sources import batch_events, log_events, partner_events
from tests.builders import ACTOR, T0, World
from tests.epcis_support.gs1 import example, reference_event_ids, schema_errors

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ID_FIELD = {"party": "party_id", "site": "site_id", "gpu_model": "model_id", "authorization": "authorization_id"}


@pytest.fixture
def fresh(tmp_path) -> Iterator[Registry]:  # type: ignore[no-untyped-def]
    app = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))
    yield app
    app.close()


def _at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def full_history(w: World) -> tuple[UUID, UUID]:
    """A serialized batch through every movement, and a quantity-only batch with every clearance step."""
    a = w.order(quantity=8)
    w.clear(a, quantity=8)
    serials = w.serials(a, n=8)
    w.ship(a, serials=serials[:6])
    got = [*serials[:5], "STRANGER-1"]  # one never shipped, one shipped and missing
    w.do(
        "receive",
        c.Receive,
        batch_id=a,
        shipment_id="SHP-1",
        receiving_party_id=w.samsung,
        site_id=w.site,
        serials=got,
        discrepancy_note="one extra, one short",
        occurred_at=_at(8),
    )
    w.do(
        "install",
        c.Install,
        batch_id=a,
        site_id=w.site,
        placements=[
            {"rack": "R01", "host": "h01", "serials": serials[:2]},
            {"rack": "R02", "host": "h02", "serials": serials[2:4]},
        ],
        occurred_at=_at(10),
    )
    w.do(
        "install",
        c.Install,
        batch_id=a,
        site_id=w.site2,
        rack="X9",
        host="hx",
        serials=serials[3:4],
        occurred_at=_at(11),
    )  # reported again at another site: relocated
    w.do(
        "assign",
        c.Assign,
        batch_id=a,
        assignee_id=w.samsung,
        purpose="training",
        serials=serials[:2],
        occurred_at=_at(12),
    )
    w.do(
        "transfer",
        c.Transfer,
        batch_id=a,
        to_owner_id=w.naver,
        to_site_id=w.site2,
        reason="in-country sale",
        serials=serials[4:5],
        occurred_at=_at(13),
    )
    w.do(
        "return_for_rma",
        c.ReturnForRma,
        batch_id=a,
        rma_number="RMA-77",
        reason="ECC errors",
        serials=serials[2:3],
        occurred_at=_at(14),
    )
    w.registry.decommission(
        ACTOR, c.parse(c.Decommission, dict(batch_id=a, method="shredded", serials=serials[2:3], occurred_at=_at(15)))
    )
    w.do(
        "report_lost",
        c.ReportLost,
        batch_id=a,
        kind="stolen",
        note="after audit",
        serials=serials[1:2],
        occurred_at=_at(16),
    )
    w.do(
        "report_lost",
        c.ReportLost,
        batch_id=a,
        kind="lost",
        note="never found",
        serials=serials[7:8],
        occurred_at=_at(17),
    )
    w.do(
        "record_onward_movement",
        c.RecordOnwardMovement,
        batch_id=a,
        kind="diversion",
        country="AE",
        place="Jebel Ali",
        note="end-use check",
        serials=serials[1:2],
        occurred_at=_at(18),
    )

    b = w.order(quantity=10, po_number="PO-2026-0002", buyer_id=w.naver)
    request = dict(
        batch_id=b,
        eccn="3A090.a",
        destination_country="KR",
        consignee_id=w.naver,
        end_user_id=w.naver,
        quantity=10,
        end_use="inference",
        authorization_id=w.license,
    )
    w.do("request_clearance", c.RequestClearance, **request, occurred_at=_at(1))
    w.do("deny_clearance", c.DenyClearance, batch_id=b, reason="end use unclear", occurred_at=_at(2))
    w.do("request_clearance", c.RequestClearance, **request, occurred_at=_at(3))
    w.do("grant_clearance", c.GrantClearance, batch_id=b, authorization_id=w.license, occurred_at=_at(4))
    w.ship(b, shipment="SHP-B", quantity=10, occurred_at=_at(5),
           intermediate_consignee_ids=[w.samsung], forwarder_id=w.carrier)
    w.do(
        "receive",
        c.Receive,
        batch_id=b,
        shipment_id="SHP-B",
        receiving_party_id=w.naver,
        site_id=w.site2,
        quantity=10,
        occurred_at=_at(9),
    )
    w.do("install", c.Install, batch_id=b, site_id=w.site2, quantity=10, rack="N1", occurred_at=_at(10))
    w.do("revoke_clearance", c.RevokeClearance, batch_id=b, reason="license suspended", occurred_at=_at(20))
    return a, b


def copy_reference_data(source: Registry, target: Registry) -> None:
    """Register in ``target`` every party, site, GPU model and authorization of ``source``, same ids."""
    for _, stored in source.iter_log():
        kind = {"Party": "party", "Site": "site", "GpuModel": "gpu_model", "ExportAuthorization": "authorization"}.get(
            type(stored).__qualname__.split(".")[0]
        )
        if kind is None or stored.originator_version != 1:
            continue
        current = source.get(kind, stored.originator_id)
        model = REFERENCE_COMMANDS[kind]
        state = {n: getattr(current, n) for n in model.model_fields if hasattr(current, n)}
        state.pop("request_id", None)
        state.pop("expected_version", None)
        state[ID_FIELD[kind]] = stored.originator_id
        state["occurred_at"] = stored.occurred_at
        getattr(target, f"register_{kind}")(ACTOR, c.parse(model, state))


def batch_state(b: GpuBatch) -> dict[str, Any]:
    return {
        name: getattr(b, name)
        for name in (
            "po_number",
            "supplier_id",
            "buyer_id",
            "model_id",
            "quantity",
            "unit_price",
            "currency",
            "allocation_program",
            "clearance_status",
            "buckets",
            "units",
            "shipments",
            "totals",
        )
    } | {"clearance": {k: v for k, v in b.clearance.items() if k != "evidence"}}


def test_every_exported_event_kind_validates_against_gs1_schema_and_has_gs1s_event_hash(
    registry: Registry, world: World
) -> None:
    a, b = full_history(world)
    # Serials that read as numbers: one overflows a float (GS1's reference implementation cannot
    # hash it as a bare value), two are equal as numbers.
    numeric = world.order(quantity=3, po_number="PO-2026-0003")
    world.do("register_serials", c.RegisterSerials, batch_id=numeric, units=[
        {"serial": "1652123E4500000", "gpu_uuid": "GPU-1"}, {"serial": "0123", "gpu_uuid": "GPU-2"},
        {"serial": "123", "gpu_uuid": "GPU-3"}], occurred_at=_at(3))
    events = [e for batch in (a, b, numeric) for e in batch_events(registry, batch)]
    doc = document(events, NOW)
    assert schema_errors(doc) == []
    assert [e["eventID"] for e in events] == reference_event_ids(doc)
    kinds = Counter(e["gpureg:registryEvent"].split("@")[0] for e in events)
    assert set(kinds) == {
        "Ordered",
        "ClearanceRequested",
        "ClearanceGranted",
        "ClearanceDenied",
        "ClearanceRevoked",
        "SerialsRegistered",
        "Shipped",
        "Received",
        "Installed",
        "Assigned",
        "Transferred",
        "ReturnedForRma",
        "Decommissioned",
        "ReportedLost",
        "OnwardMovementRecorded",
    }
    by_kind: dict[str, dict[str, Any]] = {}
    for e in events:  # the first of each kind (batch a's)
        by_kind.setdefault(e["gpureg:registryEvent"].split("@")[0], e)
    assert by_kind["Shipped"]["bizStep"] == "shipping" and by_kind["Shipped"]["disposition"] == "in_transit"
    assert {"type": "desadv", "bizTransaction": "https://id.gpureg.example/shipment/SHP-1"} in (
        by_kind["Shipped"]["bizTransactionList"]
    )
    assert by_kind["Shipped"]["gpureg:eccn"] == "3A090.a"
    assert by_kind["Received"]["gpureg:unexpected"] == ["https://id.gpureg.example/gpu/STRANGER-1"]
    assert by_kind["Decommissioned"]["action"] == "DELETE"
    lost = [e for e in events if e["gpureg:registryEvent"].startswith("ReportedLost")]
    assert [e["disposition"] for e in lost] == ["stolen", "unknown"]
    onward = by_kind["OnwardMovementRecorded"]
    assert (onward["bizStep"], onward["gpureg:onwardMovement"], onward["gpureg:destinationCountry"]) == (
        "departing", "diversion", "AE")


def test_the_log_and_a_partners_batches_export_only_what_they_cover(registry: Registry, world: World) -> None:
    a, b = full_history(world)
    everything = [e for _, e in log_events(registry)]
    assert {e["gpureg:batchID"] for e in everything} == {str(a), str(b)}
    naver_only = list(partner_events(registry, world.naver))
    assert {e["gpureg:batchID"] for e in naver_only} == {str(b)}
    middle = registry.position_of(a, 5)
    later = [e for _, e in log_events(registry, after=middle)]
    assert later and later[0]["gpureg:registryEvent"] != "Ordered@1"
    assert schema_errors(document(later, NOW)) == []  # a batch's po is known mid-history too
    assert all(e in everything for e in later)


def test_a_history_captured_into_a_fresh_registry_gives_the_same_batches(
    registry: Registry, world: World, fresh: Registry
) -> None:
    a, b = full_history(world)
    copy_reference_data(registry, fresh)
    doc = document([e for _, e in log_events(registry)], NOW)

    result = Capture(fresh).capture("partner@samsung", doc)

    assert result.errors == [] and result.accepted
    for batch in (a, b):
        assert batch_state(fresh.get_batch(batch)) == batch_state(registry.get_batch(batch))
    shipment = fresh.get_batch(b).shipments["SHP-B"]  # the extension carries the shipment's parties
    assert (shipment.intermediate_consignee_ids, shipment.forwarder_id) == ([world.samsung], world.carrier)
    assert all(e.actor == "partner@samsung" for _, e in fresh.iter_log() if isinstance(e, GpuBatch.Event))
    # Capturing the same document again is answered from the request records: nothing is written.
    head = fresh.head()
    again = Capture(fresh).capture("partner@samsung", doc)
    assert again.counts() == {"replayed": len(doc["epcisBody"]["eventList"])}
    assert fresh.head() == head


def test_a_document_with_one_bad_event_writes_nothing_and_names_the_event_field_and_rule(
    registry: Registry, world: World, fresh: Registry
) -> None:
    a, _ = full_history(world)
    copy_reference_data(registry, fresh)
    events = list(batch_events(registry, a))
    receipt = next(i for i, e in enumerate(events) if e.get("bizStep") == "receiving")
    events[receipt] = {**events[receipt], "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"}}
    head = fresh.head()

    refused = Capture(fresh).capture("partner@samsung", document(events, NOW))

    assert not refused.accepted and fresh.head() == head
    error = refused.errors[0]  # later events that needed the receipt are refused after it
    assert error.index == receipt and error.event_id == events[receipt]["eventID"]
    assert error.field == "bizLocation.id" and "site-identifier" in error.rule
    # Per-event mode writes every event that passes its checks, and reports the others:
    partial = Capture(fresh).capture("partner@samsung", document(events, NOW), per_event=True)
    written = {o.index for o in partial.outcomes if o.status == "written"}
    assert set(range(receipt)) <= written and receipt not in written
    assert all(o.status == "written" or o.error is not None for o in partial.outcomes)
    lost_pending = len(events) - 1  # the last event (a pending unit reported lost) needs no receipt
    assert lost_pending in written
    assert fresh.head() > head


def test_a_refused_domain_rule_is_reported_before_anything_is_written(
    registry: Registry, world: World, fresh: Registry
) -> None:
    a, _ = full_history(world)
    copy_reference_data(registry, fresh)
    events = [e for e in batch_events(registry, a) if not e["gpureg:registryEvent"].startswith("ClearanceGranted")]

    refused = Capture(fresh).capture("exporter@nvidia", document(events, NOW))

    shipping = next(i for i, e in enumerate(events) if e.get("bizStep") == "shipping")
    first = refused.errors[0]
    assert (first.index, first.field) == (shipping, "ship")
    assert "granted export clearance" in first.rule
    assert fresh.head() == 0 or all(not isinstance(e, GpuBatch.Event) for _, e in fresh.iter_log())


@pytest.mark.parametrize(
    "name",
    [
        "Example_9.6.1-ObjectEvent.jsonld",
        "Example_9.6.2-ObjectEvent.jsonld",
        "Example_9.6.3-AggregationEvent.jsonld",
        "Example_9.6.4-TransformationEvent.jsonld",
        "Example-TransactionEvents-2020_07_03y.jsonld",
        "Example_9.6.1-ObjectEventWithDigitalLink.jsonld",
        "PersistentDisposition-example.jsonld",
        "object_event_all_possible_fields.jsonld",
        "Example_9.6.1-ObjectEvent-with-error-declaration.jsonld",
    ],
)
def test_gs1s_example_documents_are_refused_event_by_event_with_the_reason(fresh: Registry, name: str) -> None:
    doc = example(name)
    events = doc["epcisBody"]["eventList"]
    head = fresh.head()

    result = Capture(fresh).capture("partner@example", doc)

    assert fresh.head() == head
    assert len(result.errors) == len(events)  # GS1's identifiers name nothing in this registry
    for error, event in zip(result.errors, events, strict=True):
        assert error.event_id == event.get("eventID", error.event_id)
        assert error.field and error.rule
        assert error.rule.startswith("rule "), error


def test_partners_hand_written_shipment_receipt_and_installation_are_captured(registry: Registry, world: World) -> None:
    """As an exporter's and a data centre's own systems would write them: GPU and site URIs, a
    despatch advice, CBV terms bare or as web vocabulary URIs, no registry extension fields at all."""
    batch = world.order(quantity=4)
    world.clear(batch, quantity=4)
    serials = world.serials(batch, n=4)
    gpus = [f"https://id.gpureg.example/gpu/{s}" for s in serials]
    site = f"https://id.gpureg.example/site/{world.site}"
    desadv = [{"type": "desadv", "bizTransaction": "https://id.gpureg.example/shipment/ASN-9"}]
    common = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": gpus, "bizTransactionList": desadv}
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-20T00:00:00Z",
        "epcisBody": {"eventList": [
            {**common, "eventTime": "2026-03-10T08:00:00-07:00", "eventTimeZoneOffset": "-07:00",
             "bizStep": "shipping", "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
             "destinationList": [{"type": "location", "destination": site}]},
            {**common, "eventTime": "2026-03-15T10:00:00+09:00", "eventTimeZoneOffset": "+09:00",
             "bizStep": "receiving", "disposition": "in_progress", "bizLocation": {"id": site}},
            {**common, "eventTime": "2026-03-18T10:00:00+09:00", "eventTimeZoneOffset": "+09:00",
             "bizStep": "https://ref.gs1.org/cbv/BizStep-installing", "bizLocation": {"id": site},
             "bizTransactionList": []},
        ]},
    }
    assert schema_errors(doc) == []

    result = Capture(registry).capture("wms@samsung", doc)

    assert result.errors == [] and [o.command for o in result.outcomes] == ["ship", "receive", "install"]
    state = registry.get_batch(batch)
    assert state.shipments["ASN-9"].destination_country == "KR"  # the destination site's country
    assert {u.stage for u in state.units.values()} == {"installed"}
    assert all(u.site == world.site.hex for u in state.units.values())
    received = [e for e in registry.history(batch, limit=100) if isinstance(e, GpuBatch.Received)]
    assert received[0].receiving_party_id == world.samsung  # the site's operator
    assert received[0].occurred_at == datetime(2026, 3, 15, 1, 0, tzinfo=UTC)


def test_an_event_captured_again_with_another_content_under_the_same_event_id_is_refused_before_writing(
    registry: Registry, world: World, fresh: Registry
) -> None:
    a, _ = full_history(world)
    copy_reference_data(registry, fresh)
    events = list(batch_events(registry, a))
    assert Capture(fresh).capture("dc@samsung", document(events[:4], NOW)).accepted
    assert events[3]["bizStep"] == "commissioning"
    units = [dict(u) for u in events[3]["ilmd"]["gpureg:units"]]
    units[0]["gpureg:gpuUUID"] = "GPU-00000000-edited"
    changed = {**events[3], "ilmd": {"gpureg:units": units}}  # same eventID, another GPU UUID
    head = fresh.head()

    refused = Capture(fresh).capture("dc@samsung", document([*events[:3], changed, *events[4:6]], NOW))

    assert [(e.index, e.field) for e in refused.errors] == [(3, "eventID")]
    assert "idempotency-key" in refused.errors[0].rule and fresh.head() == head
