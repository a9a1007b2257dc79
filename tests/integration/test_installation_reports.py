"""An installation report places many racks in one command, one atomic write (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.domain.batch import GpuBatch, Stage
from registry.domain.errors import InvalidField, InvariantViolation
from tests.builders import T0, World


def _received(world: World, n: int) -> tuple[UUID, list[str]]:
    batch = world.order(n)
    world.clear(batch, n)
    serials = world.serials(batch, n)
    world.ship(batch, serials=serials)
    world.do("receive", c.Receive, batch_id=batch, shipment_id="SHP-1", receiving_party_id=world.samsung,
             site_id=world.site, serials=serials, occurred_at=T0 + timedelta(days=8))
    return batch, serials


def _report(world: World, batch: UUID, racks: list[list[str]], request_id: str = "") -> c.Install:
    return c.parse(c.Install, dict(
        request_id=request_id, batch_id=batch, site_id=world.site, occurred_at=T0 + timedelta(days=10),
        placements=[{"rack": f"R{i}", "host": f"h{i}", "serials": rack} for i, rack in enumerate(racks)],
    ))


def test_an_installation_report_records_one_installed_event_per_rack_in_one_write(
    world: World, registry: Registry
) -> None:
    batch, serials = _received(world, 16)
    before = registry.head()

    result = registry.install("dc-ops", _report(world, batch, [serials[:8], serials[8:]]))

    events = list(registry.repository.event_store.get(batch))
    installed = [e for e in events if isinstance(e, GpuBatch.Installed)]
    assert [(e.rack, e.host, list(e.serials)) for e in installed] == [("R0", "h0", serials[:8]), ("R1", "h1", serials[8:])]
    assert result.version == events[-1].originator_version
    stored = registry.repository.get(batch)
    assert {stored.units[s].rack for s in serials[:8]} == {"R0"}
    assert {stored.units[s].host for s in serials[8:]} == {"h1"}
    assert stored.units_by_stage()[Stage.INSTALLED] == 16
    assert registry.head() - before == 2  # the two events, nothing else


def test_a_report_with_one_refused_placement_records_nothing_and_names_the_placement(
    world: World, registry: Registry
) -> None:
    batch, serials = _received(world, 16)
    before = registry.head()

    with pytest.raises(InvariantViolation) as refused:
        registry.install("dc-ops", _report(world, batch, [serials[:8], [*serials[8:], "NOT-IN-BATCH"]]))

    assert refused.value.rule == "serial-in-batch"
    assert refused.value.detail.startswith("placements[1]: ")
    assert registry.head() == before
    assert registry.repository.get(batch).units_by_stage()[Stage.INSTALLED] == 0


def test_retrying_an_installation_report_returns_the_first_result_and_writes_nothing(
    world: World, registry: Registry
) -> None:
    batch, serials = _received(world, 8)
    first = registry.install("dc-ops", _report(world, batch, [serials[:4], serials[4:]], "inst-1"))
    head = registry.head()

    again = registry.install("dc-ops", _report(world, batch, [serials[:4], serials[4:]], "inst-1"))

    assert (again.version, again.position) == (first.version, first.position)
    assert registry.head() == head


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"serials": ["A1"], "placements": [{"serials": ["B1"]}]}, "placements"),
        ({"rack": "R1", "placements": [{"serials": ["B1"]}]}, "placements"),
        ({"placements": [{"serials": ["B1"]}, {"serials": ["B1"]}]}, "placements"),
        ({"placements": [{"rack": "R1", "serials": []}]}, "placements.0.serials"),
    ],
)
def test_a_malformed_installation_report_is_refused_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        c.parse(c.Install, {"batch_id": str(UUID(int=1)), "site_id": str(UUID(int=2)), **data})
    assert refused.value.violations[0][0] == field


def test_a_single_rack_installation_keeps_the_fingerprint_it_had_before_reports_existed() -> None:
    cmd = c.parse(c.Install, {"batch_id": str(UUID(int=1)), "site_id": str(UUID(int=2)), "serials": ["A1"],
                              "rack": "R1"})
    assert "placements" not in cmd.fingerprint_payload()
