"""A recorded event declared in error (EPCIS 2.0 section 7.4.1.2, ``GpuBatch.ErrorDeclared``) is a
discrepancy in the auditor's log ("a discrepancy log ... and each discrepancy's resolution", the rule
text's records and documents): the compliance projection raises ``event-declared-in-error`` on the
batch naming the declared event (its type, units and shipment when it was captured under that
eventID), with the declaration (who, when, the reason, the corrective events) as the evidence in its
trail. A repair that receives units back from an RMA at a site is checked as a receipt there.

Through EPCIS capture and the registry's API, and the compliance read model built from the log
(SQLite and PostgreSQL stores)."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from projections.compliance import ComplianceFindings
from projections.compliance_queries import BatchCompliance, Finding
from projections.db import ACTIVE, create_readmodel_engine, ensure_bookkeeping
from projections.engine import apply_chunk, create_generation
from projections.queries import ReadModels
from registry.application import commands as c
from registry.application.service import Registry
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.sources import batch_events
from tests.builders import ACTOR, T0, World
from tests.integration.test_epcis_conformance import _shipment_document

SHIPMENT_EVENT = "urn:uuid:6f1d8e2a-1111-4c4c-8888-000000000001"  # _shipment_document's eventID


def _compliance(registry: Registry, tmp_path: Path, batch: UUID) -> BatchCompliance:
    engine = create_readmodel_engine(f"sqlite:///{tmp_path}/rm.db")
    ensure_bookkeeping(engine)
    projection = ComplianceFindings()
    gen = create_generation(engine, projection, ACTIVE, "test")
    apply_chunk(engine, projection, gen, registry.read_log(0, 100_000), registry.decode, "test")
    found = ReadModels(engine, projections=[projection]).batch_compliance(batch)
    assert found is not None
    return found


def _declared(registry: Registry, tmp_path: Path, batch: UUID) -> Finding:
    [finding] = [f for f in _compliance(registry, tmp_path, batch).findings if f.rule_id == "event-declared-in-error"]
    return finding


def test_a_captured_shipment_declared_did_not_occur_is_a_high_discrepancy_with_its_declaration_as_evidence(
    registry: Registry, world: World, tmp_path: Path
) -> None:
    doc, serials = _shipment_document(world)
    assert Capture(registry).capture("wms@nvidia", doc).accepted
    batch = registry.claimed(serials[:1])[serials[0]]
    declaration = copy.deepcopy(doc)
    declaration["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2026-03-11T10:00:00+01:00", "reason": "did_not_occur",
        "correctiveEventIDs": ["urn:uuid:6f1d8e2a-1111-4c4c-8888-0000000000bb"]}
    assert Capture(registry).capture("wms@nvidia", declaration).accepted

    finding = _declared(registry, tmp_path, batch)

    assert (finding.severity, finding.status, finding.shipment_id, sorted(finding.serials)) == (
        "high", "open", "ASN-1", sorted(serials))
    assert finding.revealed_event_type == "ErrorDeclared"
    [reason] = finding.reasons
    assert reason.startswith("Shipped (log position ") and f"2 unit(s), shipment ASN-1) {SHIPMENT_EVENT}" in reason
    assert "declared in error (did_not_occur) on 2026-03-11" in reason
    assert "corrective event(s): urn:uuid:6f1d8e2a-1111-4c4c-8888-0000000000bb" in reason
    [raised] = finding.trail
    assert (raised.action, raised.actor, raised.event_type) == ("raised", "wms@nvidia", "ErrorDeclared")
    assert raised.note.startswith("declaration by wms@nvidia at 2026-03-11T09:00:00+00:00: did_not_occur; corrective")


def test_an_api_event_declared_incorrect_data_by_its_exported_id_is_a_medium_discrepancy(
    registry: Registry, world: World, tmp_path: Path
) -> None:
    batch = world.order(quantity=2)
    world.clear(batch, quantity=2)
    world.ship(batch, serials=world.serials(batch, n=2))
    [shipped] = [e for e in batch_events(registry, batch) if e.get("bizStep") == "shipping"]
    event = {k: val for k, val in shipped.items() if k != "recordTime"}
    event["errorDeclaration"] = {"declarationTime": "2026-03-20T10:00:00Z", "reason": "incorrect_data"}
    doc = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {v.PREFIX: v.NAMESPACE}],
           "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-20T10:00:00Z",
           "epcisBody": {"eventList": [event]}}
    assert Capture(registry).capture("logistics@nvidia", doc).accepted

    finding = _declared(registry, tmp_path, batch)

    # recorded through the API: the projection knows the declared event by its eventID only
    assert (finding.severity, finding.status, finding.shipment_id) == ("medium", "open", "")
    assert finding.reasons == [
        f"event {shipped['eventID']} declared in error (incorrect_data) on 2026-03-20: the registry's record of "
        "it stands (positions and totals unchanged); no corrective event named"]
    assert [t.action for t in finding.trail] == ["raised"]


def test_a_repair_receiving_units_back_from_rma_at_a_site_outside_the_licensed_country_is_flagged(
    registry: Registry, world: World, tmp_path: Path
) -> None:
    batch = world.order(quantity=2)
    world.clear(batch, quantity=2)
    serials = world.serials(batch, n=2)
    world.ship(batch, serials=serials)
    world.do("receive", c.Receive, batch_id=batch, shipment_id="SHP-1", receiving_party_id=world.samsung,
             site_id=world.site, serials=serials, occurred_at=T0 + timedelta(days=8))
    world.do("return_for_rma", c.ReturnForRma, batch_id=batch, rma_number="RMA-9", reason="ECC errors",
             serials=serials[:1], occurred_at=T0 + timedelta(days=20))
    abroad = registry.register_site(ACTOR, c.parse(c.RegisterSite, {
        "name": "Osaka repair depot", "operator_id": world.samsung, "country": "JP",
        "power_capacity_kw": "100"})).aggregate_id
    world.do("repair", c.Repair, batch_id=batch, kind="from_rma", rma_number="RMA-9", site_id=abroad,
             serials=serials[:1], occurred_at=T0 + timedelta(days=30))

    found = _compliance(registry, tmp_path, batch)

    [finding] = [f for f in found.findings if f.rule_id == "location-not-authorized"]
    assert (finding.site_id, finding.serials, finding.revealed_event_type) == (abroad, serials[:1], "Repaired")
    assert "units received back from RMA at site Osaka repair depot" in finding.reasons[0]
