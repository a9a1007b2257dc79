"""What the read models answer: batches, serials, ownership, site power, custody, progress."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from projections.common import uuid_or_none
from projections.db import create_readmodel_engine, ensure_bookkeeping
from projections.queries import ReadModels, SerialInfo
from projections.runner import ProjectionRunner
from registry.application import commands as c
from registry.application.allocation_commands import RemoveAllocation, SetAllocation
from registry.application.ports import BatchFilter, BatchListing
from registry.domain.classification import NOV_2023
from registry.domain.errors import InvalidField
from tests.builders import ACTOR, T0, World
from tests.integration.projections.conftest import ReadSide
from tests.projection_workload import KINDS, Driver

B200_TPP = Decimal(36000)  # 4500 dense FP8 TOPS x 8 bits (= 2250 FP16 x 16)


def _delivered(w: World, quantity: int = 16, buyer: UUID | None = None) -> tuple[UUID, list[str]]:
    """A serialized batch shipped to ``w.site`` and received there."""
    batch = w.order(quantity, buyer_id=buyer or w.samsung)
    w.clear(batch, quantity)
    serials = w.serials(batch, quantity, prefix=f"S{batch.hex[:4].upper()}")
    w.ship(batch, serials=serials)
    w.do("receive", c.Receive, batch_id=batch, shipment_id="SHP-1", receiving_party_id=w.samsung,
         site_id=w.site, serials=serials, occurred_at=T0 + timedelta(days=6))
    return batch, serials


def _installed_and_assigned(w: World) -> tuple[UUID, list[str]]:
    """16 GPUs at w.site: 12 installed (8 of them assigned to NAVER), 4 received."""
    batch, serials = _delivered(w)
    w.do("install", c.Install, batch_id=batch, site_id=w.site, rack="R07", host="gpu-node-3",
         serials=serials[:12], occurred_at=T0 + timedelta(days=7))
    w.do("assign", c.Assign, batch_id=batch, assignee_id=w.naver, purpose="LLM training",
         serials=serials[:8], occurred_at=T0 + timedelta(days=8))
    return batch, serials


def test_batches_are_listed_oldest_first_a_page_at_a_time(read_side: ReadSide) -> None:
    w = read_side.world
    first, second, third = w.order(4), w.order(5), w.order(6)
    read_side.runner().catch_up()
    listing: BatchListing = read_side.read_models

    page, token = listing.list_batches(BatchFilter(), 2, "")
    assert [b.batch_id for b in page] == [first, second]
    rest, last = listing.list_batches(BatchFilter(), 2, token)
    assert [b.batch_id for b in rest] == [third]
    assert last == ""
    assert page[0].stage == "ordered"
    assert page[0].units_by_stage["pending"] == 4
    assert page[0].quantity == 4


def test_batches_are_filtered_by_partner_site_stage_model_and_country(read_side: ReadSide) -> None:
    w = read_side.world
    delivered, _ = _delivered(w)
    naver_order = w.order(3, buyer_id=w.naver)
    cleared = w.order(2)
    w.clear(cleared, 2)
    read_side.runner().catch_up()

    def ids(f: BatchFilter) -> set[UUID]:
        return {b.batch_id for b in read_side.read_models.list_batches(f, 0, "")[0]}

    assert ids(BatchFilter(partner_id=w.naver)) == {naver_order}
    assert ids(BatchFilter(partner_id=w.samsung)) == {delivered, cleared}
    assert ids(BatchFilter(site_id=w.site)) == {delivered}
    assert ids(BatchFilter(stage="cleared")) == {cleared}
    assert ids(BatchFilter(stage="received")) == {delivered}
    assert ids(BatchFilter(country="KR")) == {delivered, cleared}
    assert ids(BatchFilter(model_id=w.b200)) == {delivered, naver_order, cleared}
    summary = read_side.read_models.list_batches(BatchFilter(site_id=w.site), 0, "")[0][0]
    assert summary.site_ids == [w.site]
    assert summary.destination_country == "KR"


@pytest.mark.parametrize(
    ("page_size", "token", "f", "field"),
    [
        (10, "not-a-token", BatchFilter(), "page_token"),
        (-1, "", BatchFilter(), "page_size"),
        (10, "", BatchFilter(stage="floating"), "stage"),
    ],
)
def test_a_bad_listing_request_names_the_field_and_the_rule(
    read_side: ReadSide, page_size: int, token: str, f: BatchFilter, field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        read_side.read_models.list_batches(f, page_size, token)
    assert refused.value.violations[0][0] == field


def test_each_serial_shows_where_the_gpu_is_and_whose_it_is(read_side: ReadSide) -> None:
    w = read_side.world
    batch, serials = _installed_and_assigned(w)
    read_side.runner().catch_up()

    assigned = read_side.read_models.serial(serials[0].lower())
    assert assigned is not None
    assert (assigned.batch_id, assigned.stage, assigned.site_id) == (batch, "assigned", w.site)
    assert (assigned.owner_id, assigned.assignee_id) == (w.samsung, w.naver)
    assert (assigned.rack, assigned.host, assigned.shipment_id) == ("R07", "gpu-node-3", "SHP-1")
    waiting = read_side.read_models.serial(serials[15])
    assert waiting is not None
    assert (waiting.stage, waiting.assignee_id, waiting.rack) == ("received", None, "")
    assert read_side.read_models.serial("NO-SUCH-SERIAL") is None

    page, token = read_side.read_models.batch_units(batch, 10, "")
    rest, end = read_side.read_models.batch_units(batch, 10, token)
    assert [u.serial for u in page + rest] == sorted(serials)
    assert end == ""
    detail = read_side.read_models.get_batch(batch)
    assert detail is not None
    assert detail.totals["installed"] == 12
    assert detail.totals["assigned"] == 8
    assert detail.summary.units_by_stage == {
        "pending": 0, "in_transit": 0, "received": 4, "installed": 4, "assigned": 8, "rma": 0,
        "lost": 0, "decommissioned": 0,
    }
    assert detail.assignee_ids == [w.naver]


def test_ownership_counts_gpus_and_compute_per_partner_against_its_allocation(read_side: ReadSide) -> None:
    w = read_side.world
    batch, serials = _installed_and_assigned(w)
    w.do("transfer", c.Transfer, batch_id=batch, to_owner_id=w.naver, to_site_id=w.site2,
         reason="capacity sale", serials=serials[12:14], occurred_at=T0 + timedelta(days=9))
    w.do("report_lost", c.ReportLost, batch_id=batch, kind="stolen", serials=[serials[15]],
         occurred_at=T0 + timedelta(days=10))
    w.do("set_allocation", SetAllocation, partner_id=w.samsung, gpus=50_000, reason="press, 31 Oct 2025",
         effective_from=T0)
    w.do("set_allocation", SetAllocation, partner_id=w.carrier, gpus=10, reason="test", effective_from=T0)
    read_side.runner().catch_up()

    by_partner = {o.partner_id: o for o in read_side.read_models.ownership_by_partner()}
    samsung, naver, carrier = by_partner[w.samsung], by_partner[w.naver], by_partner[w.carrier]
    assert samsung.gpus_by_stage["assigned"] == 8
    assert samsung.gpus_by_stage["installed"] == 4
    assert samsung.gpus_by_stage["received"] == 1
    assert samsung.gpus_by_stage["lost"] == 1
    assert samsung.gpus_held == 13  # live units only: the stolen one is not held
    assert samsung.compute_tpp == 13 * B200_TPP
    assert samsung.dense_pflops == Decimal("4.5") * 13
    assert samsung.allocated_gpus == 50_000
    assert samsung.allocation_used == Decimal(13) / 50_000
    assert samsung.name == "Samsung Electronics"
    assert naver.gpus_by_stage["received"] == 2
    assert naver.allocated_gpus is None
    assert (carrier.gpus_held, carrier.allocated_gpus) == (0, 10)
    assert read_side.read_models.ownership_by_partner(w.naver)[0].gpus_held == 2


def test_a_corrected_gpu_model_changes_gpus_and_compute_without_a_rebuild(read_side: ReadSide) -> None:
    w = read_side.world
    w.order(3)
    w.do("amend_reference", c.AmendReference, kind="gpu_model", target_id=w.b200,
         fields={"gpus_per_unit": 8}, reason="sold as HGX servers")
    read_side.runner().catch_up()

    samsung = read_side.read_models.ownership_by_partner(w.samsung)[0]
    assert samsung.gpus_held == 24
    assert samsung.compute_tpp == 24 * B200_TPP


def test_site_inventory_sums_installed_tdp_against_the_sites_power_capacity(read_side: ReadSide) -> None:
    w = read_side.world
    _installed_and_assigned(w)
    runner = read_side.runner()
    runner.catch_up()

    site = {s.site_id: s for s in read_side.read_models.site_inventory()}[w.site]
    assert site.installed_gpus == 12
    assert site.installed_tdp_kw == Decimal(12)  # 12 x 1000 W
    assert site.power_capacity_kw == Decimal(20000)
    assert site.power_headroom_kw == Decimal(19988)
    assert not site.over_capacity
    assert site.units_by_stage["received"] == 4
    assert [m.model_name for m in site.models] == ["B200"]
    empty = {s.site_id: s for s in read_side.read_models.site_inventory()}[w.site2]
    assert (empty.installed_gpus, empty.name) == (0, "NAVER Gak Sejong")

    w.do("amend_reference", c.AmendReference, kind="site", target_id=w.site,
         fields={"power_capacity_kw": "10"}, reason="one hall only")
    runner.catch_up()
    site = read_side.read_models.site_inventory(w.site)[0]
    assert site.over_capacity
    assert site.power_headroom_kw == Decimal(-2)


def test_the_custody_trail_has_one_row_per_batch_event_with_who_when_and_where(read_side: ReadSide) -> None:
    w = read_side.world
    batch, serials = _delivered(w, 4)
    read_side.runner().catch_up()

    trail = read_side.read_models.custody_trail(batch)
    assert [e.event_type for e in trail] == [
        "Ordered", "ClearanceRequested", "ClearanceGranted", "SerialsRegistered", "Shipped", "Received",
    ]
    assert [e.version for e in trail] == [1, 2, 3, 4, 5, 6]
    shipped, received = trail[4], trail[5]
    assert shipped.serials == serials
    assert shipped.quantity == 4
    assert shipped.site_id == w.site
    assert shipped.detail["itn"] == "X20260305123456"
    assert shipped.occurred_at == T0 + timedelta(days=4)
    assert shipped.recorded_at.tzinfo is not None
    assert received.actor == "tester@ministry"
    assert received.moves[0][2] == 4
    assert trail[0].position < trail[-1].position


def test_a_split_batchs_custody_trail_starts_with_its_parents_history(read_side: ReadSide) -> None:
    w = read_side.world
    parent = w.order(10)
    w.clear(parent, 10)
    child = w.do("split_batch", c.SplitBatch, batch_id=parent, quantity=4).aggregate_id
    w.do("correct_order", c.CorrectOrder, batch_id=parent, po_number="PO-2", reason="typo")
    read_side.runner().catch_up()

    trail = read_side.read_models.custody_trail(child)
    assert [(e.batch_id, e.event_type) for e in trail] == [
        (parent, "Ordered"), (parent, "ClearanceRequested"), (parent, "ClearanceGranted"), (child, "SplitFrom"),
    ]
    assert [e.event_type for e in read_side.read_models.custody_trail(child, include_ancestors=False)] == [
        "SplitFrom"
    ]
    assert read_side.read_models.get_batch(parent).summary.quantity == 6  # type: ignore[union-attr]


def test_projection_status_reports_the_lag_in_events_and_seconds(read_side: ReadSide) -> None:
    runner = read_side.runner()
    runner.catch_up()
    caught_up = read_side.registry.head()
    for s in read_side.read_models.projection_status():
        assert (s.position, s.head, s.lag_events, s.lag_seconds) == (caught_up, caught_up, 0, 0.0)

    read_side.world.order(2)
    read_side.world.order(3)
    waiting = read_side.registry.read_log(caught_up, 100)
    first_recorded = read_side.registry.decode(waiting[0]).timestamp
    now = first_recorded + timedelta(seconds=42)
    for s in read_side.read_models.projection_status(now=now):
        assert s.state == "active"
        assert s.position == caught_up
        assert s.head == waiting[-1].id
        assert s.lag_events == len(waiting)
        assert s.lag_seconds == pytest.approx(42.0)

    runner.catch_up()
    assert {s.lag_events for s in read_side.read_models.projection_status()} == {0}


def test_projections_that_never_ran_are_reported_as_not_started(read_side: ReadSide) -> None:
    statuses = read_side.read_models.projection_status()
    assert {s.state for s in statuses} == {"not started"}
    assert {s.lag_events for s in statuses} == {len(read_side.registry.read_log(0, 1000))}
    assert read_side.read_models.list_batches(BatchFilter(), 0, "") == ([], "")


def test_a_query_after_wait_for_position_sees_the_commands_effect(read_side: ReadSide) -> None:
    read_side.runner().start()
    result = read_side.world.do(
        "place_order", c.PlaceOrder, po_number="PO-RYW", supplier_id=read_side.world.nvidia,
        buyer_id=read_side.world.naver, model_id=read_side.world.b200, quantity=7,
        unit_price="1", currency="USD",
    )

    assert read_side.read_models.wait_for_position(result.position, timeout=60)
    page, _ = read_side.read_models.list_batches(BatchFilter(partner_id=read_side.world.naver), 0, "")
    assert [b.batch_id for b in page] == [result.aggregate_id]


def test_wait_for_position_gives_up_at_the_timeout_when_no_worker_runs(read_side: ReadSide) -> None:
    position = read_side.world.order(1)
    assert position is not None
    assert read_side.read_models.wait_for_position(read_side.registry.head(), timeout=0.05) is False


def test_allocations_are_events_set_replaced_and_removed_and_survive_deleting_the_read_models(
    read_side: ReadSide, tmp_path: Path
) -> None:
    w, rm = read_side.world, read_side.read_models
    first = w.do("set_allocation", SetAllocation, partner_id=w.samsung, gpus=40_000, reason="MoU",
                 effective_from=T0)
    w.do("set_allocation", SetAllocation, partner_id=w.samsung, gpus=50_000, reason="revised",
         effective_from=T0 + timedelta(days=30))
    live = read_side.runner()
    live.catch_up()
    assert [(a.partner_id, a.gpus, a.note, a.set_by) for a in rm.allocations()] == [
        (w.samsung, 50_000, "revised", ACTOR)
    ]
    # in force at a business date: the value effective then (the later one was not yet effective)
    now = datetime.now(UTC)
    assert [a.gpus for a in rm.allocations_at(now, effective_at=T0 + timedelta(days=1))] == [40_000]
    # the facts are events on the allocation aggregate: who, when, why, from when
    allocation = read_side.registry.partner_allocation(w.samsung)
    assert allocation is not None and allocation.id == first.aggregate_id and allocation.gpus == 50_000
    assert [(h["gpus"], h["reason"], h["actor"], h["effective_from"]) for h in allocation.history] == [
        (40_000, "MoU", ACTOR, T0), (50_000, "revised", ACTOR, T0 + timedelta(days=30)),
    ]
    with pytest.raises(InvalidField) as refused:
        w.do("set_allocation", SetAllocation, partner_id=w.samsung, gpus=-1, reason="typo")
    assert refused.value.violations[0][0] == "gpus"
    before_removal = datetime.now(UTC)
    while datetime.now(UTC) <= before_removal:
        pass  # the removal is recorded strictly later
    w.do("remove_allocation", RemoveAllocation, partner_id=w.samsung, reason="programme ended",
         effective_from=T0 + timedelta(days=60))
    live.catch_up()
    assert rm.allocations() == []
    # the read-model database holds only derived data: a new, empty one gives the same history
    fresh = create_readmodel_engine(f"sqlite:///{tmp_path}/fresh-readmodels.db")
    try:
        ensure_bookkeeping(fresh)
        runner = ProjectionRunner(read_side.registry, fresh, poll_interval=0.01, standby_interval=0.05)
        try:
            runner.catch_up()
        finally:
            runner.stop()
        rebuilt = ReadModels(fresh, read_side.registry)
        assert rebuilt.allocations_at(before_removal) == rm.allocations_at(before_removal)
        assert [a.gpus for a in rebuilt.allocations_at(before_removal)] == [50_000]
        assert rebuilt.allocations() == []
    finally:
        fresh.dispose()


def test_the_read_side_serve_starts_follows_the_log_and_closes(store_url: str) -> None:
    from projections.read_side import open_read_side
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from tests.builders import make_world

    settings = Settings(database_url=store_url)
    registry = build_registry(settings)
    side = open_read_side(settings, registry, poll_interval=0.01)
    try:
        side.start()
        world = make_world(registry)
        batch = world.order(2)
        assert side.read_models.wait_for_position(registry.head(), timeout=60)
        assert side.read_models.get_batch(batch) is not None
    finally:
        side.close()
        registry.close()
    assert side.runner is not None
    assert side.runner.held() == []


def test_whole_log_questions_are_answered_by_the_read_models_as_the_log_answers_them(read_side: ReadSide) -> None:
    """Expiring authorizations, the batches of a model and the models a rule change affects: the
    registry asks the read models (ports.ReferenceQueries) instead of scanning the log by topic,
    and gets what the scan gives."""
    w, registry = read_side.world, read_side.registry
    w.do("register_authorization", c.RegisterAuthorization, auth_type="license", number="D-SOON",
         eccns=["3A090"], destination_countries=["KR"], valid_from=T0 - timedelta(days=30),
         valid_to=T0 + timedelta(days=20), quantity_limit=500, value_limit="1000000", currency="USD")
    first, second = w.order(8, po_number="PO-A"), w.order(4, po_number="PO-B")
    w.clear(first, 8)
    read_side.runner().catch_up()
    relaxed = replace(NOV_2023, ruleset_id="test-relaxed", tpp_a=Decimal(10**9), tpp_a2=Decimal(10**9),
                      tpp_b1_low=Decimal(10**9), tpp_b1_high=Decimal(10**9), tpp_b2=Decimal(10**9))
    from_log = (
        registry.expiring_authorizations(30, T0), registry.batches_of_models([w.b200]),
        registry.classification_impact(relaxed, T0),
    )
    registry.configure_compliance(reference=read_side.read_models)
    assert read_side.read_models.reached(registry.head(), 1.0)  # so the registry asks them
    from_read_models = (
        registry.expiring_authorizations(30, T0), registry.batches_of_models([w.b200]),
        registry.classification_impact(relaxed, T0),
    )
    assert from_read_models == from_log
    expiring, batches, impact = from_read_models
    assert [e.number for e in expiring] == ["D-SOON"] and expiring[0].remaining_quantity == 500
    assert batches == {w.b200: [first, second]}
    assert [ch.model_id for ch in impact] == [w.b200]
    assert read_side.read_models.expiring_authorizations(30, T0) == expiring  # the port itself


def test_a_list_import_and_the_whole_log_questions_read_no_log_by_topic_once_the_read_models_are_at_the_head(
    read_side: ReadSide, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parties a screening-list import screens, the expiring authorizations, the batches of a
    model and the models a rule change affects come from the read models (ports.ReferenceQueries):
    with them at the head, the registry reads the log by topic not once, and the import screens
    every party the log's creating events name."""
    from eventsourcing.utils import get_topic

    from registry.application import compliance_commands as cc
    from registry.domain.batch import GpuBatch
    from registry.domain.reference import ExportAuthorization, GpuModel, Party

    w, registry = read_side.world, read_side.registry
    w.order(4, po_number="PO-A")
    from_log = sorted(registry._ids_with_topic(get_topic(Party.Registered)), key=str)
    read_side.runner().catch_up()
    registry.configure_compliance(reference=read_side.read_models)
    assert read_side.read_models.reached(registry.head(), 1.0)
    assert read_side.read_models.party_ids() == from_log and len(from_log) >= 3  # the port itself

    scanned: list[str] = []
    select = registry.recorder.select_notifications

    def counted(*args: object, **kwargs: object) -> object:
        scanned.extend(str(t) for t in kwargs.get("topics") or ())
        return select(*args, **kwargs)

    monkeypatch.setattr(registry.recorder, "select_notifications", counted)
    relaxed = replace(NOV_2023, ruleset_id="test-relaxed", tpp_a=Decimal(10**9))
    registry.expiring_authorizations(30, T0)
    registry.batches_of_models([w.b200])
    registry.classification_impact(relaxed, T0)
    registry.import_screening_list("officer", cc.ImportScreeningList(source="US CSL", content=b"name\nNobody Ltd\n"))
    creating = {get_topic(cls) for cls in (Party.Registered, GpuModel.Registered, ExportAuthorization.Registered,
                                           GpuBatch.Ordered, GpuBatch.SplitFrom)}
    assert [t for t in scanned if t in creating] == []
    assert [p for p in from_log if registry.screening_case(p) is None] == []  # every party screened


def test_every_serial_of_a_random_history_answers_where_its_batch_aggregate_says_it_is(read_side: ReadSide) -> None:
    """Serial state is kept as runs (issue #18): asked one by one and page by page, every serial of a
    history with every movement kind and splits answers exactly what its batch's aggregate holds."""
    driver = Driver(read_side.world)
    rng = random.Random(18)
    for _ in range(250):  # 250: a history with as many serials as 200 steps made before repairs
        driver.step(rng.randrange(KINDS), random.Random(rng.randrange(2**32)))
    read_side.runner(chunk_size=7).catch_up()
    models = read_side.read_models
    asked = 0
    for batch_id in driver.batches:
        units = read_side.registry.get_batch(batch_id).units
        expected = [
            SerialInfo(serial=u.serial, batch_id=batch_id, gpu_uuid=u.gpu_uuid, stage=u.stage,
                       site_id=uuid_or_none(u.site), owner_id=uuid_or_none(u.owner),
                       assignee_id=uuid_or_none(u.assignee), shipment_id=u.shipment_id, rack=u.rack, host=u.host)
            for _, u in sorted(units.items())
        ]
        paged: list[SerialInfo] = []
        token = ""
        while True:
            page, token = models.batch_units(batch_id, 3, token)
            paged.extend(page)
            if not token:
                break
        assert paged == expected
        assert [models.serial(u.serial) for u in expected] == expected
        asked += len(expected)
    assert asked > 50


def test_a_repair_shows_in_the_custody_trail_and_puts_units_back_from_rma_at_the_site(read_side: ReadSide) -> None:
    """CBV repairing: units back from an RMA are received at the site named (out of any rack),
    an on-site repair leaves units where they are; both are rows of the custody trail."""
    w = read_side.world
    batch, serials = _installed_and_assigned(w)
    w.do("return_for_rma", c.ReturnForRma, batch_id=batch, rma_number="RMA-5", serials=serials[8:10],
         occurred_at=T0 + timedelta(days=9))
    w.do("repair", c.Repair, batch_id=batch, kind="from_rma", rma_number="RMA-5", site_id=w.site2,
         serials=serials[8:9], note="board replaced", occurred_at=T0 + timedelta(days=20))
    w.do("repair", c.Repair, batch_id=batch, kind="on_site", serials=serials[:2], note="fan",
         occurred_at=T0 + timedelta(days=21))
    read_side.runner().catch_up()

    back = read_side.read_models.serial(serials[8])
    assert back is not None
    assert (back.stage, back.site_id, back.rack, back.host) == ("received", w.site2, "", "")
    still = read_side.read_models.serial(serials[0])
    assert still is not None and (still.stage, still.site_id, still.rack) == ("assigned", w.site, "R07")
    away = read_side.read_models.serial(serials[9])
    assert away is not None and away.stage == "rma"
    detail = read_side.read_models.get_batch(batch)
    assert detail is not None
    assert detail.summary.units_by_stage["rma"] == 1 and detail.summary.units_by_stage["received"] == 5
    trail = read_side.read_models.custody_trail(batch)
    returned, on_site = [e for e in trail if e.event_type == "Repaired"]
    assert (returned.serials, returned.site_id, returned.detail["kind"]) == ([serials[8]], w.site2, "from_rma")
    assert (on_site.serials, on_site.site_id, on_site.detail["kind"]) == (serials[:2], w.site, "on_site")
