"""The projection worker keeps the as-of checkpoints current (registry/reports/checkpoint_keeper.py):
a round adds them once the log has grown past the latest by `every` positions, not before, and only
while the worker is the active one; a report as of a past time then resumes from them."""

from __future__ import annotations

from datetime import datetime

from registry.reports import Format, render_bytes
from registry.reports.builders import ReportSession
from registry.reports.builders.checkpoints import INDEX_KEY, CheckpointStore
from registry.reports.checkpoint_keeper import CheckpointKeeper
from tests.integration.report_world import ReportWorld, phase_one, phase_two
from tests.integration.test_report_asof_paths import _past_times


def test_a_round_adds_checkpoints_once_the_log_has_grown_and_not_again_until_it_grows(store_url: str) -> None:
    world = phase_one(store_url)
    try:
        engine = world.read_models.engine
        keeper = CheckpointKeeper(world.registry, engine, lambda: True, interval=60, every=5)
        assert keeper.run_once() is None  # the first look: the log may still be moving
        first = keeper.run_once()  # quiet since
        assert first is not None and first.positions
        assert keeper.run_once() is None  # nothing new since: not due
        latest = CheckpointStore(engine).nearest(INDEX_KEY, world.registry.head())
        assert latest is not None
        phase_two(world)  # the log grows
        assert keeper.run_once() is None  # ... and was moving since the previous look
        second = keeper.run_once()
        assert second is not None and second.positions and second.positions[0] > latest.position
        assert keeper.rounds == 2
    finally:
        world.close()


def test_a_standby_worker_keeps_no_checkpoints(sqlite_url: str) -> None:
    world = phase_one(sqlite_url)
    try:
        keeper = CheckpointKeeper(world.registry, world.read_models.engine, lambda: False, interval=60, every=5)
        assert keeper.run_once() is None
        assert keeper.run_once() is None
        assert CheckpointStore(world.read_models.engine).nearest(INDEX_KEY, world.registry.head()) is None
    finally:
        world.close()


def _compliance_json(world: ReportWorld, times: list[tuple[datetime, datetime | None]], checkpoints: bool,
                     ) -> list[bytes]:
    with ReportSession(world.store, live=False, checkpoints=checkpoints) as session:
        return [render_bytes(session.build("compliance", recorded_by=t[0], occurred_by=t[1]), Format.JSON)
                for t in times]


def test_a_past_time_report_after_a_round_gives_the_same_bytes_as_without_checkpoints(sqlite_url: str) -> None:
    world = phase_one(sqlite_url)
    try:
        phase_two(world)
        times = _past_times(world)
        before = _compliance_json(world, times, checkpoints=False)
        keeper = CheckpointKeeper(world.registry, world.read_models.engine, lambda: True, interval=60, every=5)
        keeper.run_once()
        made = keeper.run_once()
        assert made is not None and made.positions
        assert _compliance_json(world, times, checkpoints=True) == before
    finally:
        world.close()


def test_a_log_that_keeps_moving_gets_checkpoints_once_they_are_far_behind(sqlite_url: str) -> None:
    world = phase_one(sqlite_url)
    try:
        keeper = CheckpointKeeper(world.registry, world.read_models.engine, lambda: True, interval=60, every=1)
        assert world.registry.head() >= 20  # more than 20 rounds of 1 position behind
        made = keeper.run_once()  # the first look counts as moving, yet the checkpoints are far behind
        assert made is not None and made.positions
    finally:
        world.close()
