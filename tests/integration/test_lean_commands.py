"""The lean command path: one log-head read per command instead of a fast-forward per aggregate.

Cached aggregates are used without reading their events only while nobody else wrote to the log;
a second registry (another server process, with its own cache) writing to the same store forces
the first to load the aggregates it touched afresh, so no update is lost. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.errors import ConcurrencyConflict
from tests.builders import ACTOR, World, make_world


@pytest.fixture
def registry(store_url: str) -> Iterator[Registry]:
    app = build_registry(Settings(database_url=store_url, snapshot_interval=4))
    yield app
    app.close()


@pytest.fixture
def world(registry: Registry) -> World:
    return make_world(registry)


def _ship(app: Registry, batch: Any, shipment: str, **extra: Any) -> Any:
    data = dict(batch_id=batch, shipment_id=shipment, destination_country="KR", quantity=1, **extra)
    return app.ship(ACTOR, c.parse(c.Ship, data))


def _count_event_reads(app: Registry, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    original = app.recorder.select_events

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else kwargs.get("originator_id"))
        return original(*args, **kwargs)

    monkeypatch.setattr(app.recorder, "select_events", counting)
    return calls


def test_a_registry_alone_on_its_store_loads_cached_aggregates_without_reading_their_events(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = world.registry
    batch = world.order(8)
    world.clear(batch, 8)
    _ship(app, batch, "S-1")
    lean = app._lean
    assert lean is not None
    scans = lean.fast_forwards
    reads = _count_event_reads(app, monkeypatch)
    result = _ship(app, batch, "S-2", request_id="lean-ship-2")
    assert reads == []  # no fast-forward SELECT, no idempotency SELECT of the events table
    assert lean.fast_forwards == scans
    assert app.get("batch", batch).version == result.version
    replay = _ship(app, batch, "S-2", request_id="lean-ship-2")
    assert (replay.replayed, replay.version, replay.position) == (True, result.version, result.position)


def test_a_second_registry_writing_to_the_same_store_forces_a_fast_forward_and_no_update_is_lost(
    world: World, store_url: str
) -> None:
    first = world.registry
    batch = world.order(8)
    world.clear(batch, 8)
    mine = _ship(first, batch, "S-1")  # the first registry has the batch in its cache now
    second = build_registry(Settings(database_url=store_url))
    try:
        theirs = _ship(second, batch, "S-2")
        assert theirs.version == mine.version + 1
        lean = first._lean
        assert lean is not None
        scans = lean.fast_forwards
        # The first registry's cached version is stale: a command expecting it is refused ...
        with pytest.raises(ConcurrencyConflict):
            _ship(first, batch, "S-3", expected_version=mine.version)
        assert lean.fast_forwards == scans + 1
        # ... and one without an expected version builds on the other registry's write.
        after = _ship(first, batch, "S-3")
        assert after.version == theirs.version + 1
        # The other way round too: the second registry sees the first one's write.
        last = _ship(second, batch, "S-4", expected_version=after.version)
        assert last.version == after.version + 1
    finally:
        second.close()
    loaded = first.get("batch", batch)
    assert loaded.version == last.version
    assert sorted(loaded.shipments) == ["S-1", "S-2", "S-3", "S-4"]


def test_an_aggregate_dropped_after_another_processs_write_is_caught_up_by_reading_only_its_newer_events(
    world: World, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.registry
    batch = world.order(8)
    world.clear(batch, 8)
    mine = _ship(first, batch, "S-1")  # cached by the first registry at this version
    second = build_registry(Settings(database_url=store_url))
    try:
        _ship(second, batch, "S-2")
        theirs = _ship(second, batch, "S-3")
    finally:
        second.close()
    lean = first._lean
    assert lean is not None
    catch_ups = lean.catch_ups
    reads: list[tuple[object, object]] = []
    original = first.recorder.select_events

    def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append((kwargs.get("originator_id", args[0] if args else None), kwargs.get("gt")))
        return original(*args, **kwargs)

    monkeypatch.setattr(first.recorder, "select_events", counting)
    after = _ship(first, batch, "S-4")
    assert after.version == theirs.version + 1  # built on both of the other registry's writes
    assert lean.catch_ups == catch_ups + 1
    assert reads == [(batch, mine.version)]  # the events after the dropped copy, not the whole history
    fresh = build_registry(Settings(database_url=store_url))
    try:
        stored = fresh.get("batch", batch)
    finally:
        fresh.close()
    cached = first.get("batch", batch)
    assert vars(cached) == vars(stored)  # the same state as a replay of every event


def test_the_library_fast_forward_path_stays_available_for_side_by_side_measurements(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAN_COMMANDS", "off")
    app = build_registry(Settings(database_url=store_url))
    try:
        assert app._lean is None
        world = make_world(app)
        batch = world.order(4)
        world.clear(batch, 4)
        assert _ship(app, batch, "S-1").version == app.get("batch", batch).version
    finally:
        app.close()


def test_threads_of_one_registry_writing_one_batch_leave_its_cache_equal_to_the_store(
    world: World, store_url: str
) -> None:
    import threading

    app = world.registry
    batch = world.order(16)
    world.clear(batch, 16)
    errors: list[BaseException] = []

    def ship(k: int) -> None:
        try:
            for j in range(2):
                _ship(app, batch, f"T{k}-{j}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=ship, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    fresh = build_registry(Settings(database_url=store_url))
    try:
        stored = fresh.get("batch", batch)
    finally:
        fresh.close()
    cached = app.get("batch", batch)
    assert len(stored.shipments) == 16  # no update lost
    assert (cached.version, sorted(cached.shipments)) == (stored.version, sorted(stored.shipments))


def _on_append(app: Registry, monkeypatch: pytest.MonkeyPatch, before: Any = None, after: Any = None) -> None:
    """Run ``before`` / ``after`` once, around the registry's next append (its commit)."""
    original = app.recorder.insert_events
    pending = [True]

    def insert_events(*args: Any, **kwargs: Any) -> Any:
        first, pending[0] = pending[0], False
        if first and before is not None:
            before()
        ids = original(*args, **kwargs)
        if first and after is not None:
            after()
        return ids

    monkeypatch.setattr(app.recorder, "insert_events", insert_events)


def _head_scan(app: Registry) -> None:
    """What another thread's command does first: read the log head and sync the cache with it."""
    from registry.infrastructure import log_head

    assert app._lean is not None
    app._lean.sync(log_head.head_and_event(app.recorder, None)[0])


def _two_cleared_batches(world: World) -> tuple[UUID, UUID]:
    """Two batches of 8 with their clearance granted: one for another process to write, one for
    this registry."""
    batches = []
    for _ in range(2):
        batch = world.order(8)
        world.clear(batch, 8)
        batches.append(batch)
    return batches[0], batches[1]


def test_a_write_a_head_scan_saw_before_its_thread_remembered_it_stays_cached(
    world: World, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    app = world.registry
    other_batch, batch = _two_cleared_batches(world)
    second = build_registry(Settings(database_url=store_url))
    try:
        # Another process writes first (so the head is past what this registry has seen), then
        # this registry's ship commits, and a head scan (another thread) sees it before its
        # thread remembers it: the scan drops the batch, the remember puts the new version back.
        _on_append(app, monkeypatch, before=lambda: _ship(second, other_batch, "X-1"),
                   after=lambda: _head_scan(app))
        mine = _ship(app, batch, "S-1")
    finally:
        second.close()
    monkeypatch.undo()
    reads = _count_event_reads(app, monkeypatch)
    after = _ship(app, batch, "S-2")
    assert reads == []  # the batch came from the cache, at the version the ship wrote
    assert after.version == mine.version + 1


def test_a_write_followed_by_another_processs_write_before_the_scan_is_not_cached_stale(
    world: World, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    app = world.registry
    batch = world.order(8)
    world.clear(batch, 8)
    second = build_registry(Settings(database_url=store_url))
    try:
        # This registry's ship commits; another process ships the same batch on top of it; a head
        # scan sees both before the first ship's thread remembers its write, which is then stale.
        def theirs() -> None:
            _ship(second, batch, "THEIRS")
            _head_scan(app)

        _on_append(app, monkeypatch, after=theirs)
        mine = _ship(app, batch, "MINE")
    finally:
        second.close()
    monkeypatch.undo()
    later = _ship(app, batch, "LATER", expected_version=mine.version + 1)  # builds on theirs
    assert later.version == mine.version + 2
    assert sorted(app.get("batch", batch).shipments) == ["LATER", "MINE", "THEIRS"]


def test_a_head_scan_keeps_what_the_cache_holds_at_the_newest_version(
    world: World, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    app = world.registry
    other_batch, batch = _two_cleared_batches(world)
    second = build_registry(Settings(database_url=store_url))
    try:
        # Another process writes between this registry's head read and its commit: this write is
        # remembered past a position this registry has not looked at yet.
        _on_append(app, monkeypatch, before=lambda: _ship(second, other_batch, "X-1"))
        mine = _ship(app, batch, "S-1")
    finally:
        second.close()
    monkeypatch.undo()
    lean = app._lean
    assert lean is not None
    scans = lean.fast_forwards
    reads = _count_event_reads(app, monkeypatch)
    after = _ship(app, batch, "S-2")
    assert lean.fast_forwards == scans + 1  # the other process's write was looked at ...
    assert reads == []  # ... and this registry's own newer write kept: no reload of the batch
    assert after.version == mine.version + 1
