"""The as-of view's two replay paths give the same report bytes: the in-memory build (the default)
and the chunk-by-chunk application to the tables (what a live worker does), at past times chosen
between the events of one batch, at the edges of the log, and as occurred by a past business time."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from registry.reports import AsOf, Format, render_bytes
from registry.reports.builders import KINDS, ReportSession
from registry.reports.builders.asof import AsOfView
from tests.builders import T0
from tests.integration.report_world import DAY, ReportWorld, phase_one, phase_two

TEXT_FORMATS = (Format.HTML, Format.CSV, Format.JSON)


def _recorded_times(world: ReportWorld) -> list[tuple[Any, datetime]]:
    """(aggregate id, recorded time) of every event, in log order."""
    registry = world.registry
    out: list[tuple[Any, datetime]] = []
    after = 0
    while notes := registry.read_log(after, 500):
        for n in notes:
            e: Any = registry.decode(n)
            out.append((e.originator_id, e.timestamp))
        after = notes[-1].id
    return out


def _past_times(world: ReportWorld) -> list[tuple[datetime, datetime | None]]:
    """(recorded by, occurred by) pairs: halfway between consecutive events of batch A (shipped,
    received, installed, assigned, late receipt), at phase one's end, and an as-occurred time that
    takes the late receipt (day 7) in and leaves NAVER's receipt (day 14) out."""
    events = _recorded_times(world)
    of_a = [t for aggregate, t in events if aggregate == world.batch_a]
    between = [a + (b - a) / 2 for a, b in pairwise(of_a) if b > a]
    assert len(between) >= 5, "batch A should have several events recorded at different times"
    picked = [between[len(between) // 3], between[len(between) // 2], between[-1]]
    return [
        *[(t, None) for t in picked],
        (world.recorded_by, None),
        (events[-1][1], T0 + 10 * DAY + timedelta(hours=1)),
    ]


def _bytes(world: ReportWorld, kind: str, when: tuple[datetime, datetime | None], in_memory: bool) -> dict[Format, bytes]:
    with ReportSession(world.store, live=False, in_memory=in_memory) as session:
        report = session.build(kind, recorded_by=when[0], occurred_by=when[1])
        return {f: render_bytes(report, f) for f in TEXT_FORMATS}


@pytest.mark.parametrize("kind", KINDS)
def test_the_in_memory_replay_gives_the_bytes_of_the_chunked_replay_at_past_times(store_url: str, kind: str) -> None:
    world = phase_one(store_url)
    try:
        phase_two(world)
        times = _past_times(world)
        seen: set[bytes] = set()
        for when in times:
            fast = _bytes(world, kind, when, in_memory=True)
            slow = _bytes(world, kind, when, in_memory=False)
            for fmt in TEXT_FORMATS:
                assert fast[fmt] == slow[fmt], f"{kind} {fmt} as of {when} differs between the two replays"
            seen.add(fast[Format.JSON])
    finally:
        world.close()
    assert len(seen) >= 3, f"the chosen times should give different {kind} reports, got {len(seen)}"


def test_a_view_replayed_in_memory_refuses_the_serial_queries_it_did_not_keep(sqlite_url: str) -> None:
    world = phase_one(sqlite_url)
    try:
        with AsOfView(world.registry, AsOf(world.recorded_by)) as view:
            with pytest.raises(LookupError, match="serial rows"):
                view.read_models.serial(world.serials_a[0])
            with pytest.raises(LookupError, match="serial rows"):
                view.read_models.batch_units(world.batch_a)
            assert view.read_models.get_batch(world.batch_a) is not None
        with AsOfView(world.registry, AsOf(world.recorded_by), in_memory=False) as view:
            found = view.read_models.serial(world.serials_a[0])
            assert found is not None and found.stage == "assigned"
    finally:
        world.close()
