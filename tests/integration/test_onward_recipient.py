"""An onward movement's recipient (``RecordOnwardMovement.recipient_id``) is shown where the movement
is: GetBatchCompliance's onward movements, the custody trail and the EPCIS export (the
destinationList's possessing_party, captured back into the same command). The exporter's staff and
the overseers see every recipient; a confined caller (a partner) only its own party or a subsidiary,
any other recipient is left out as if none had been recorded (docs/security.md).

Through the registry's public API, the read models built from its log, the gRPC messages the
servicers answer with, and the auth layer's grants for a partner's real scope (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from projections.compliance import ComplianceFindings
from projections.custody import CustodyTrail
from projections.db import ACTIVE, create_readmodel_engine, ensure_bookkeeping
from projections.engine import apply_chunk, create_generation
from projections.queries import ReadModels
from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.epcis.capture import Capture
from registry.epcis.export import document
from registry.epcis.sources import batch_events, log_events
from registry.security.grants import Grants
from registry.security.principal import Principal, Role
from registry.security.scope import Scope, ScopeIndex
from registry.server.findings import batch_compliance_message
from registry.server.readmodels import custody_message
from tests.builders import ACTOR, T0, World
from tests.integration.test_epcis import _at, copy_reference_data

NOW = T0.replace(year=2027)


def _history(registry: Registry, w: World) -> tuple[UUID, UUID]:
    """A batch shipped, then three onward movements: to Samsung's subsidiary, to NAVER, to nobody named."""
    sub = registry.register_party(ACTOR, c.parse(c.RegisterParty, {
        "name": "Samsung SDS", "country": "KR", "roles": ["purchaser", "consignee", "end_user"],
        "headquarters_country": "KR", "ultimate_parent_id": w.samsung})).aggregate_id
    batch = w.order(quantity=8)
    w.clear(batch, quantity=8)
    serials = w.serials(batch, n=8)
    w.ship(batch, serials=serials)
    for i, (kind, country, recipient) in enumerate(
            [("reexport", "JP", sub), ("transshipment", "SG", w.naver), ("diversion", "AE", None)]):
        w.do("record_onward_movement", c.RecordOnwardMovement, batch_id=batch, kind=kind, country=country,
             place="", note="", recipient_id=recipient, serials=serials[i:i + 1], occurred_at=_at(20 + i))
    return batch, sub


def _read_models(registry: Registry, tmp_path: Path) -> ReadModels:
    engine = create_readmodel_engine(f"sqlite:///{tmp_path}/rm.db")
    ensure_bookkeeping(engine)
    projections = [ComplianceFindings(), CustodyTrail()]
    for p in projections:
        gen = create_generation(engine, p, ACTIVE, "test")
        apply_chunk(engine, p, gen, registry.read_log(0, 100_000), registry.decode, "test")
    return ReadModels(engine, projections=projections)


def _partner(registry: Registry, party: UUID) -> Grants:
    index = ScopeIndex(registry)
    index.refresh()
    return Grants.of(Principal("partner@samsung", Role.PARTNER, party), Scope.of(party, index))


def _staff() -> Grants:
    return Grants.of(Principal("officer", Role.COMPLIANCE_OFFICER), None)


def _departures(events: Any) -> list[Any]:
    return [e.get("destinationList") for e in events if e.get("bizStep") == "departing"]


def test_the_recipient_shows_to_staff_and_to_a_partner_only_when_it_is_its_own_or_a_subsidiary(
    registry: Registry, world: World, tmp_path: Path
) -> None:
    batch, sub = _history(registry, world)
    models = _read_models(registry, tmp_path)
    found = models.batch_compliance(batch)
    assert found is not None
    trail = [e for e in models.custody_trail(batch) if e.event_type == "OnwardMovementRecorded"]
    staff, partner = _staff(), _partner(registry, world.samsung)
    assert staff.sees_party is None and partner.sees_party is not None

    def onward(grants: Grants) -> list[str]:
        answer = batch_compliance_message(found, grants.legal_holds, grants.sees_party)
        return [m.recipient_id for m in answer.onward_movements]

    def custody(grants: Grants) -> list[Any]:
        return [json.loads(custody_message(e, grants.sees_party).detail_json)["recipient_id"] for e in trail]

    everyone = [str(sub), str(world.naver), ""]
    assert onward(staff) == everyone
    assert custody(staff) == [str(sub), str(world.naver), None]
    # Samsung's partner: its subsidiary's receipt shows, NAVER's is left out as if none were recorded
    assert onward(partner) == [str(sub), "", ""]
    assert custody(partner) == [str(sub), None, None]
    # NAVER's partner: only its own
    naver = _partner(registry, world.naver)
    assert onward(naver) == ["", str(world.naver), ""]

    # EPCIS: the recipient as the departure's possessing_party, for a partner only its family's
    def possessing(entries: Any) -> str | None:
        return entries[0]["destination"].rsplit("/", 1)[-1] if entries else None

    assert [possessing(d) for d in _departures(batch_events(registry, batch))] == [str(sub), str(world.naver), None]
    assert all(d is None or d[0]["type"] == "possessing_party" for d in _departures(batch_events(registry, batch)))
    assert partner.visible is not None
    assert [possessing(d) for d in _departures(batch_events(registry, batch, partner.visible))] == [
        str(sub), None, None]


def test_a_captured_onward_movement_keeps_its_recipient(
    registry: Registry, world: World, tmp_path: Path
) -> None:
    _batch, sub = _history(registry, world)
    fresh = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))
    try:
        copy_reference_data(registry, fresh)
        result = Capture(fresh).capture("partner@samsung", document([e for _, e in log_events(registry)], NOW))
        assert result.errors == [] and result.accepted
        moved = [getattr(e, "recipient_id", "absent") for _, e in fresh.iter_log()
                 if type(e).__name__ == "OnwardMovementRecorded"]
        assert moved == [sub, world.naver, None]
    finally:
        fresh.close()
