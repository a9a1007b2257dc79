"""Running projections: rebuilds that switch over, code versions, exactly-once, standby, LISTEN/NOTIFY."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from eventsourcing.persistence import Notification
from sqlalchemy import inspect

from projections.batch_inventory import BatchInventory
from projections.catalog import default_projections
from projections.db import ACTIVE, BUILDING, reading
from projections.engine import Generation, PositionMoved, apply_chunk, apply_chunks, dump_generation, generations
from projections.feed import Feed, LogSource, SubscriptionFeed
from projections.locks import open_locks
from projections.queries import ReadModels
from projections.runner import ProjectionRunner, RebuildBusy, rebuild
from registry.application.ports import BatchFilter
from registry.domain.errors import ReadModelRebuilding
from tests.integration.projections.conftest import ReadSide
from tests.projection_workload import active_generation_number, dump_active


def _gens(side: ReadSide, name: str) -> list[Generation]:
    with reading(side.engine) as conn:
        return generations(conn, name)


def test_a_rebuild_fills_fresh_tables_while_queries_answer_from_the_old_ones(read_side: ReadSide) -> None:
    w = read_side.world
    for n in range(1, 6):
        w.order(n)
    read_side.runner().catch_up()
    before = read_side.read_models.list_batches(BatchFilter(), 0, "")
    seen_during: list[Any] = []

    def during(position: int, head: int) -> None:
        if not seen_during:
            seen_during.append((
                read_side.read_models.list_batches(BatchFilter(), 0, ""),
                sorted((g.generation, g.status) for g in _gens(read_side, "batch_inventory")),
            ))

    new = rebuild(read_side.registry, read_side.engine, BatchInventory(), chunk_size=3, progress=during)

    assert seen_during == [(before, [(1, ACTIVE), (2, BUILDING)])]
    assert [(g.generation, g.status) for g in _gens(read_side, "batch_inventory")] == [(2, ACTIVE)]
    assert new.position == read_side.registry.head()
    assert read_side.read_models.list_batches(BatchFilter(), 0, "") == before
    tables = set(inspect(read_side.engine).get_table_names())
    assert "rm_batch_inventory_batch_g2" in tables
    assert "rm_batch_inventory_batch_g1" not in tables


def test_a_running_worker_continues_on_the_generation_a_rebuild_switched_in(read_side: ReadSide) -> None:
    w = read_side.world
    runner = read_side.runner()
    w.order(2)
    runner.catch_up()
    rebuild(read_side.registry, read_side.engine, BatchInventory())
    late = w.order(3)
    runner.catch_up()
    runner.catch_up()

    assert active_generation_number(read_side.engine, BatchInventory()) == 2
    assert late in {b.batch_id for b in read_side.read_models.list_batches(BatchFilter(), 0, "")[0]}


class InventoryV2(BatchInventory):
    version = BatchInventory.version + 1


def test_a_projection_whose_code_version_changed_is_rebuilt_when_a_runner_starts(read_side: ReadSide) -> None:
    w = read_side.world
    w.order(4)
    read_side.runner().catch_up()
    read_side.runners.pop().stop()
    old = dump_active(read_side.engine, BatchInventory())
    w.order(5)

    read_side.runner(projections=[InventoryV2()], chunk_size=2).catch_up()

    assert [(g.generation, g.version, g.status) for g in _gens(read_side, "batch_inventory")] == [
        (2, InventoryV2.version, ACTIVE)
    ]
    rows = dump_active(read_side.engine, InventoryV2())["batch"]
    assert len(rows) == len(old["batch"]) + 1


def test_until_an_upgrades_rebuild_switches_over_queries_of_the_new_code_are_refused_as_rebuilding(
    read_side: ReadSide,
) -> None:
    w = read_side.world
    batch = w.order(4)
    read_side.runner().catch_up()
    read_side.runners.pop().stop()
    upgraded = ReadModels(read_side.engine, read_side.registry,
                       [InventoryV2() if p.name == "batch_inventory" else p for p in default_projections()])

    with pytest.raises(ReadModelRebuilding) as refused:
        upgraded.list_batches(BatchFilter(), 0, "")
    assert (refused.value.projection, refused.value.active_version, refused.value.code_version) == (
        "batch_inventory", BatchInventory.version, InventoryV2.version)
    read_side.runner(projections=[InventoryV2()]).catch_up()
    assert [b.batch_id for b in upgraded.list_batches(BatchFilter(), 0, "")[0]] == [batch]
    with pytest.raises(ReadModelRebuilding):  # and the old code no longer reads the new tables
        read_side.read_models.list_batches(BatchFilter(), 0, "")


def test_a_chunk_applied_from_a_stale_position_is_refused_and_writes_nothing(read_side: ReadSide) -> None:
    read_side.world.order(3)
    runner = read_side.runner(chunk_size=1000)
    runner.step()  # creates generation 1
    read_side.world.order(4)
    projection = BatchInventory()
    [gen] = _gens(read_side, projection.name)
    notes = read_side.registry.read_log(gen.position, 1000)
    stale = Generation(gen.name, gen.generation, gen.version, gen.status, gen.position)

    assert apply_chunk(read_side.engine, projection, gen, notes, read_side.registry.decode, "first") == len(notes)
    before = dump_generation(read_side.engine, projection, gen.generation)
    with pytest.raises(PositionMoved):
        apply_chunk(read_side.engine, projection, stale, notes, read_side.registry.decode, "second")

    assert dump_generation(read_side.engine, projection, gen.generation) == before
    assert _gens(read_side, projection.name)[0].worker == "first"


def test_one_runner_runs_a_projection_and_a_standby_takes_over_when_it_stops(read_side: ReadSide) -> None:
    w = read_side.world
    first = read_side.runner(worker_id="first")
    standby = read_side.runner(worker_id="standby", standby_interval=0)
    w.order(1)
    first.catch_up()
    standby.catch_up()
    assert first.held() == [p.name for p in default_projections()]
    assert standby.held() == []

    first.stop()
    w.order(2)
    standby.catch_up()

    assert standby.held() == [p.name for p in default_projections()]
    assert {g.worker for p in default_projections() for g in _gens(read_side, p.name)} == {"standby"}
    assert read_side.read_models.wait_for_position(read_side.registry.head(), timeout=0)


def test_a_second_rebuild_of_a_projection_is_refused_while_one_runs(read_side: ReadSide) -> None:
    locks = open_locks(read_side.engine)
    try:
        assert locks.try_acquire("rebuild-ownership")
        with pytest.raises(RebuildBusy, match="ownership"):
            rebuild(read_side.registry, read_side.engine, default_projections()[1])
    finally:
        locks.close()


@pytest.mark.postgres
def test_the_postgres_feed_delivers_new_events_through_listen_notify(pg_read_side: ReadSide) -> None:
    side = pg_read_side
    head = side.registry.head()
    feed = SubscriptionFeed(LogSource(side.registry), gt=head)
    try:
        batch = side.world.order(2)
        assert feed.wait(head, timeout=30)
        delivered = feed.read(head, 100, fresh=False)
    finally:
        feed.close()
    assert [n.originator_id for n in delivered] == [batch]


class DeafFeed:
    """A subscription that loses every notification (as if NOTIFY never arrived)."""

    def __init__(self, source: LogSource) -> None:
        self.source = source
        self._wake = threading.Event()
        self.waits = 0
        self.fresh_reads = 0

    def read(self, after: int, limit: int, fresh: bool) -> list[Notification]:
        if not fresh:
            return []  # nothing was ever delivered
        self.fresh_reads += 1
        return self.source.read(after, limit)

    def wait(self, after: int, timeout: float) -> bool:
        self.waits += 1
        self._wake.wait(timeout)
        return False

    def trim(self, upto: int) -> None:
        return None

    def interrupt(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._wake.set()

    @property
    def broken(self) -> bool:
        return False


class DeafRunner(ProjectionRunner):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscribed = threading.Event()

    def _subscribe(self, after: int) -> Feed:
        self.deaf = DeafFeed(self.source)
        self.subscribed.set()
        return self.deaf


@pytest.mark.postgres
def test_a_lost_notification_only_delays_a_projection_until_its_bounded_wait_runs_out(
    pg_read_side: ReadSide,
) -> None:
    side = pg_read_side
    runner = DeafRunner(side.registry, side.engine, repoll_interval=0.05)
    side.runners.append(runner)
    runner.start()
    assert runner.subscribed.wait(timeout=60)  # caught up, now following the (deaf) subscription
    batch = side.world.order(6)

    assert side.read_models.wait_for_position(side.registry.head(), timeout=60)
    assert batch in {b.batch_id for b in side.read_models.list_batches(BatchFilter(), 0, "")[0]}
    assert runner.deaf.waits >= 1
    assert runner.deaf.fresh_reads >= 1


def test_a_generation_left_behind_by_a_dead_rebuild_is_dropped_when_a_runner_starts(read_side: ReadSide) -> None:
    from projections.engine import create_generation

    read_side.world.order(2)
    read_side.runner().catch_up()
    read_side.runners.pop().stop()
    create_generation(read_side.engine, BatchInventory(), BUILDING, "a rebuild that died")

    read_side.runner().catch_up()

    assert [(g.generation, g.status) for g in _gens(read_side, "batch_inventory")] == [(1, ACTIVE)]
    assert "rm_batch_inventory_batch_g2" not in set(inspect(read_side.engine).get_table_names())


def test_an_in_memory_store_keeps_its_read_models_in_a_scratch_file_for_the_runner_and_queries() -> None:
    from pathlib import Path

    from projections.read_side import open_read_side
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from tests.builders import make_world

    settings = Settings(database_url="sqlite:///:memory:")
    registry = build_registry(settings)
    side = open_read_side(settings, registry, poll_interval=0.01)
    scratch = Path(str(side.engine.url.database)).parent
    try:
        side.start()
        batch = make_world(registry).order(3)
        assert side.read_models.wait_for_position(registry.head(), timeout=60)
        assert side.read_models.get_batch(batch) is not None
    finally:
        side.close()
        registry.close()
    del side
    import gc

    gc.collect()
    assert not scratch.exists()


def test_chunks_of_several_projections_with_one_stale_position_are_refused_together(read_side: ReadSide) -> None:
    """Every position moves with one conditional statement (on PostgreSQL one UPDATE over a VALUES
    list): one stale generation among several refuses them all, and nothing is written."""
    read_side.world.order(3)
    runner = read_side.runner(chunk_size=1000)
    runner.step()  # creates the generations
    read_side.world.order(4)
    projections = [p for p in default_projections() if p.name in ("batch_inventory", "ownership", "site_inventory")]
    gens = {p.name: _gens(read_side, p.name)[0] for p in projections}
    notes = read_side.registry.read_log(min(g.position for g in gens.values()), 1000)
    assert apply_chunks(read_side.engine, [(projections[0], gens[projections[0].name], notes)],
                        read_side.registry.decode, "first") == [len(notes)]
    before = {p.name: dump_generation(read_side.engine, p, gens[p.name].generation) for p in projections}
    stale = Generation(projections[0].name, gens[projections[0].name].generation, 0, ACTIVE, 0)
    stale.position = min(g.position for g in gens.values() if g.name != stale.name)  # what it was
    chunks = [(projections[0], stale, notes)] + [(p, gens[p.name], notes) for p in projections[1:]]
    with pytest.raises(PositionMoved):
        apply_chunks(read_side.engine, chunks, read_side.registry.decode, "second")
    assert {p.name: dump_generation(read_side.engine, p, gens[p.name].generation) for p in projections} == before
    assert [g.worker for p in projections[1:] for g in _gens(read_side, p.name)] != ["second", "second"]
    # the same chunks from the positions as stored now apply together
    fresh = [(p, _gens(read_side, p.name)[0], notes) for p in projections]
    assert apply_chunks(read_side.engine, fresh, read_side.registry.decode, "third") == [0, len(notes), len(notes)]
