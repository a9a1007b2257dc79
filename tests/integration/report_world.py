"""A small registry for report tests, written in two phases with a known time between them.

Phase one (recorded by ``recorded_by``): a Samsung batch of 72 B200 ordered, cleared, serialized,
shipped in two consignments (SHP-A1: 40 units, SHP-A2: 32), SHP-A1 received at the Pyeongtaek
site, 32 of its units installed and 16 assigned; a NAVER batch of 16 ordered, cleared and shipped
(SHP-B1), not received; Samsung's allocation set to 100 GPUs.

Phase two (recorded after ``recorded_by``): the receipt of SHP-A2 is reported late: it *occurred*
on day 7, before the phase-one installation (day 10), but is *recorded* only now; NAVER's
shipment arrives and is installed; Samsung's allocation becomes 200; a third batch is ordered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from projections.db import open_engine
from projections.queries import ReadModels
from registry.application import commands as c
from registry.application.allocation_commands import SetAllocation
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.reports.builders import ReportStore
from registry.reports.builders.asof import last_recorded_at
from tests.builders import T0, World, make_world

DAY = timedelta(days=1)


@dataclass
class ReportWorld:
    url: str
    registry: Registry
    read_models: ReadModels
    w: World
    batch_a: UUID
    batch_b: UUID
    serials_a: list[str]
    serials_b: list[str]
    recorded_by: datetime  # when the registry recorded the last phase-one event

    @property
    def store(self) -> ReportStore:
        return ReportStore(self.registry, self.read_models)

    def close(self) -> None:
        self.read_models.engine.dispose()
        self.registry.close()


def _clear(w: World, batch: UUID, party: UUID, quantity: int) -> None:
    w.do("request_clearance", c.RequestClearance, batch_id=batch, eccn="3A090.a", destination_country="KR",
         consignee_id=party, end_user_id=party, quantity=quantity, end_use="AI training",
         authorization_id=w.license, occurred_at=T0 + DAY)
    w.do("grant_clearance", c.GrantClearance, batch_id=batch, authorization_id=w.license, occurred_at=T0 + 2 * DAY)


def phase_one(url: str) -> ReportWorld:
    settings = Settings(database_url=url)
    registry = build_registry(settings)
    read_models = ReadModels(open_engine(settings), registry)
    w = make_world(registry)
    a = w.order(72, po_number="PO-A")
    _clear(w, a, w.samsung, 72)
    serials_a = w.serials(a, 72)
    w.ship(a, "SHP-A1", serials=serials_a[:40], itn="X20260306000001")
    w.ship(a, "SHP-A2", serials=serials_a[40:], itn="X20260308000002", occurred_at=T0 + 6 * DAY)
    w.do("receive", c.Receive, batch_id=a, shipment_id="SHP-A1", receiving_party_id=w.samsung, site_id=w.site,
         serials=serials_a[:40], occurred_at=T0 + 8 * DAY)
    w.do("install", c.Install, batch_id=a, site_id=w.site, rack="R01", host="b200-001", serials=serials_a[:32],
         occurred_at=T0 + 10 * DAY)
    w.do("assign", c.Assign, batch_id=a, assignee_id=w.samsung, purpose="foundation model training",
         serials=serials_a[:16], occurred_at=T0 + 12 * DAY)
    b = w.order(16, po_number="PO-B", buyer_id=w.naver, allocation_program="naver-hyperscale")
    _clear(w, b, w.naver, 16)
    serials_b = w.serials(b, 16, prefix="1653")
    w.do("set_allocation", SetAllocation, partner_id=w.samsung, gpus=100, reason="phase one", effective_from=T0)
    w.ship(b, "SHP-B1", serials=serials_b, itn="X20260309000003", destination_site_id=w.site2,
           occurred_at=T0 + 9 * DAY, intermediate_consignee_ids=[w.samsung], forwarder_id=w.carrier)
    recorded_by = last_recorded_at(registry)
    assert recorded_by is not None
    while datetime.now(UTC) <= recorded_by:  # phase two must be recorded strictly later
        time.sleep(0.001)
    return ReportWorld(url, registry, read_models, w, a, b, serials_a, serials_b, recorded_by)


def phase_two(world: ReportWorld) -> None:
    w = world.w
    w.do("receive", c.Receive, batch_id=world.batch_a, shipment_id="SHP-A2", receiving_party_id=w.samsung,
         site_id=w.site, serials=world.serials_a[40:], occurred_at=T0 + 7 * DAY)
    w.do("receive", c.Receive, batch_id=world.batch_b, shipment_id="SHP-B1", receiving_party_id=w.naver,
         site_id=w.site2, serials=world.serials_b, occurred_at=T0 + 14 * DAY)
    w.do("install", c.Install, batch_id=world.batch_b, site_id=w.site2, rack="N01", host="b200-101",
         serials=world.serials_b, occurred_at=T0 + 15 * DAY)
    w.do("set_allocation", SetAllocation, partner_id=w.samsung, gpus=200, reason="phase two", effective_from=T0)
    w.order(8, po_number="PO-C", occurred_at=T0 + 20 * DAY)


def reopen(world: ReportWorld) -> ReportWorld:
    """The same store through a new registry (as another process would read it)."""
    settings = Settings(database_url=world.url)
    registry = build_registry(settings)
    return ReportWorld(
        world.url, registry, ReadModels(open_engine(settings), registry), world.w, world.batch_a, world.batch_b,
        world.serials_a, world.serials_b, world.recorded_by,
    )
