"""Checkpoints of the as-of replay (registry/reports/builders/checkpoints.py): a report as of a past time
that starts its replay from a checkpoint has the bytes of the replay from empty, at every past time the
replay-path test uses, with checkpoints every few positions; checkpoints of a log that changed under them,
or after an event an occurred-by time leaves out, are not used."""

from __future__ import annotations

import os
import pickle
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from projections import catalog
from projections.db import writing
from registry.reports import AsOf, Format, render_bytes
from registry.reports.builders import KINDS, ReportSession
from registry.reports.builders.asof import AsOfView
from registry.reports.builders.checkpoints import (
    CHECKPOINTS,
    CheckpointStore,
    drop_checkpoints,
    key_of,
    loads,
    make_checkpoints,
)
from tests.integration.report_world import ReportWorld, phase_one, phase_two
from tests.integration.test_report_asof_paths import TEXT_FORMATS, _past_times


def _bytes(world: ReportWorld, kind: str, when: tuple[datetime, datetime | None], checkpoints: bool) -> dict[Format, bytes]:
    with ReportSession(world.store, live=False, checkpoints=checkpoints) as session:
        report = session.build(kind, recorded_by=when[0], occurred_by=when[1])
        return {f: render_bytes(report, f) for f in TEXT_FORMATS}


@pytest.mark.parametrize("kind", KINDS)
def test_a_replay_resumed_from_checkpoints_gives_the_bytes_of_a_replay_from_empty(store_url: str, kind: str) -> None:
    world = phase_one(store_url)
    try:
        phase_two(world)
        made = make_checkpoints(world.registry, world.read_models.engine, every=5)
        assert len(made.positions) >= 3, made
        times = _past_times(world)
        for when in times:
            resumed = _bytes(world, kind, when, checkpoints=True)
            empty = _bytes(world, kind, when, checkpoints=False)
            for fmt in TEXT_FORMATS:
                assert resumed[fmt] == empty[fmt], f"{kind} {fmt} as of {when} differs from the replay from empty"
    finally:
        world.close()


def test_a_view_resumes_from_the_latest_checkpoint_before_its_position_and_only_then(sqlite_url: str) -> None:
    world = phase_one(sqlite_url)
    try:
        phase_two(world)
        engine = world.read_models.engine
        store = CheckpointStore(engine)
        with AsOfView(world.registry, AsOf(world.recorded_by), checkpoints=store) as view:
            assert view.resumed_from == {}  # none made yet
        make_checkpoints(world.registry, engine, every=4)
        # making them again is incremental: nothing is made again, nothing new before the next 4 positions
        assert make_checkpoints(world.registry, engine, every=4).positions == []
        compliance = catalog.select(["compliance"])
        with AsOfView(world.registry, AsOf(world.recorded_by), projections=compliance, checkpoints=store) as view:
            at = store.nearest(key_of(compliance[0]), view.position)
            assert at is not None and view.resumed_from == {"compliance": at.position}
            assert view.index_from == at.position  # the log read from there too: one pass
            assert 0 < view.position - at.position < 4 or view.position == at.position
        # a checkpoint whose event is no longer the log's is not used: the next one down is
        with writing(engine) as conn:
            conn.execute(CHECKPOINTS.update().where(CHECKPOINTS.c.position == at.position).values(event="x:1"))
        with AsOfView(world.registry, AsOf(world.recorded_by), projections=compliance, checkpoints=store) as view:
            assert view.resumed_from["compliance"] < at.position
        # an occurred-by time that leaves an event out uses only checkpoints before that event
        head = world.registry.head()
        last = world.registry.decode(world.registry.read_log(head - 1, 1)[0])
        early = AsOf(last.timestamp, world.recorded_by)
        with AsOfView(world.registry, early, projections=compliance, checkpoints=store) as view:
            assert view.left_out > 0
            assert all(p < view.first_left_out for p in view.resumed_from.values())
        drop_checkpoints(engine)
        assert store.size() == (0, 0)
    finally:
        world.close()


class _Calls:
    """Pickles as a call of ``os.getcwd`` (what a forged checkpoint would do with ``os.system``)."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (os.getcwd, ())


def test_a_checkpoint_that_names_anything_but_state_classes_is_refused_and_the_view_replays_from_empty(
    sqlite_url: str,
) -> None:
    with pytest.raises(pickle.UnpicklingError, match="may not name"):
        loads(pickle.dumps({"rows": [_Calls()]}, 5))
    with pytest.raises(pickle.UnpicklingError, match="may not name"):  # a domain module's import, not its class
        loads(b"cregistry.domain.classification\nDecimal\n.")  # imported there from decimal
    world = phase_one(sqlite_url)
    try:
        engine = world.read_models.engine
        make_checkpoints(world.registry, engine, every=4)
        store = CheckpointStore(engine)
        compliance = catalog.select(["compliance"])
        with AsOfView(world.registry, AsOf(world.recorded_by), projections=compliance, checkpoints=store) as view:
            at = view.resumed_from["compliance"]
        forged = zlib.compress(pickle.dumps({"position": at, "work": _Calls()}, 5))
        with writing(engine) as conn:
            conn.execute(CHECKPOINTS.update().where(CHECKPOINTS.c.position == at,
                                                    CHECKPOINTS.c.projection == key_of(compliance[0])).values(data=forged))
        with AsOfView(world.registry, AsOf(world.recorded_by), projections=compliance, checkpoints=store) as view:
            assert "compliance" not in view.resumed_from  # ignored (and logged): replayed from empty
    finally:
        world.close()


def test_at_the_log_head_a_view_reads_the_log_from_the_index_checkpoint_and_the_live_read_models(
    store_url: str,
) -> None:
    from tests.integration.test_report_builders import _catch_up

    world = phase_one(store_url)
    try:
        phase_two(world)
        _catch_up(world)
        made = make_checkpoints(world.registry, world.read_models.engine, every=5)
        for kind in KINDS:
            with ReportSession(world.store) as session:
                report = session.build(kind)
                resumed = {f: render_bytes(report, f) for f in TEXT_FORMATS}
            with ReportSession(world.store, live=False, checkpoints=False) as session:
                report = session.build(kind)
                empty = {f: render_bytes(report, f) for f in TEXT_FORMATS}
            assert resumed == empty, kind
        with AsOfView(world.registry, AsOf(datetime.now(UTC)), live=world.read_models,
                      checkpoints=CheckpointStore(world.read_models.engine)) as view:
            assert view.live and view.index_from == made.positions[-1]
    finally:
        world.close()
