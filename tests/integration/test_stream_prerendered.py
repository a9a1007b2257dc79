"""SubscribeEvents from renderings the projection worker kept (projections/event_stream.py): the
same stream as rendering every event in the server, when the worker rendered all, part or none of
the log, for every filter; only an unconfined caller's default-form stream uses them."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from projections.db import ACTIVE, BUILDING, open_engine, reading
from projections.engine import apply_chunk as engine_apply_chunk
from projections.engine import dump_generation, generations
from projections.event_stream import SKIPPED_TOPICS, EventStream
from projections.runner import ProjectionRunner, rebuild
from registry.api.v1 import events_pb2 as pb
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.server.concurrency import Blocking, LogNotifier
from registry.server.events import EventServicer, Subscription, subscription_of
from registry.server.stream_rendering import Prebuilt, RenderedEvents, serialize_response
from tests.builders import make_world
from tests.projection_workload import KINDS, Driver


@dataclasses.dataclass
class Store:
    registry: Registry
    engine: Engine
    driver: Driver
    rng: random.Random

    def steps(self, n: int) -> None:
        for _ in range(n):
            self.driver.step(self.rng.randrange(KINDS), self.rng)

    def project(self) -> None:
        """Run the event stream projection up to the log head, then stop."""
        runner = ProjectionRunner(self.registry, self.engine, [EventStream()], use_subscription=False)
        try:
            runner.catch_up()
        finally:
            runner.stop()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    settings = Settings(database_url=store_url)
    registry = build_registry(settings)
    engine = open_engine(settings)
    try:
        yield Store(registry, engine, Driver(make_world(registry)), random.Random(18))
    finally:
        engine.dispose()
        registry.close()


def _servicer(store: Store, rendered: bool) -> EventServicer:
    return EventServicer(store.registry, Blocking(1), LogNotifier(), 0.05, 1.0, kept_bytes=0,
                         rendered=RenderedEvents(store.engine) if rendered else None)


def _catch_up(servicer: EventServicer, s: Subscription) -> list[pb.SubscribeEventsResponse | Prebuilt]:
    """Every message a catch-up from ``s.after`` sends, page by page, as ``_stream`` reads them."""
    sent: list[pb.SubscribeEventsResponse | Prebuilt] = []
    cursor = s.after
    while True:
        page = servicer._page(cursor, s)
        sent.extend(page.messages)
        if not page.full:
            return sent
        cursor = max(cursor, page.last)


def _subscriptions(store: Store) -> list[Subscription]:
    batch = next(n for n in store.registry.read_log(0, 10_000) if n.topic.endswith(":GpuBatch.Ordered"))
    requests = [
        pb.SubscribeEventsRequest(max_events_per_message=37),
        pb.SubscribeEventsRequest(max_events_per_message=1000),
        pb.SubscribeEventsRequest(max_events_per_message=50, after_position=60),
        pb.SubscribeEventsRequest(max_events_per_message=20, include_request_records=True),
        pb.SubscribeEventsRequest(max_events_per_message=10, event_types=["GpuBatch.Shipped", "GpuBatch.Received"]),
        pb.SubscribeEventsRequest(max_events_per_message=5, batch_id=str(batch.originator_id)),
    ]
    return [dataclasses.replace(subscription_of(r, 1.0), sees_all=True) for r in requests]


def _events(messages: list[pb.SubscribeEventsResponse | Prebuilt]) -> list[bytes]:
    """The events of a catch-up's messages, each as it is on the wire."""
    found: list[bytes] = []
    for m in messages:
        parsed = m.message() if isinstance(m, Prebuilt) else m
        assert serialize_response(m) == parsed.SerializeToString()  # a prebuilt message parses as sent
        if isinstance(m, Prebuilt):
            assert m.last == parsed.events.events[-1].position
        found.extend(e.SerializeToString() for e in parsed.events.events)
    return found


def _check_same_stream(store: Store) -> tuple[int, int]:
    """Each subscription's catch-up with kept renderings sends the same events, in the same order and
    byte for byte, as the catch-up rendering every event (where a page ends may differ: at the
    worker's position); returns (prebuilt messages, kept events sent in them)."""
    new, old = _servicer(store, True), _servicer(store, False)
    prebuilt = kept_events = 0
    kept = RenderedEvents(store.engine).read(0, store.registry.head())
    for s in _subscriptions(store):
        with_kept, rendering = _catch_up(new, s), _catch_up(old, s)
        assert all(isinstance(m, pb.SubscribeEventsResponse) for m in rendering)
        assert _events(with_kept) == _events(rendering)
        assert all(len(m.message().events.events) <= s.max_events for m in with_kept if isinstance(m, Prebuilt))
        for m in with_kept:
            if isinstance(m, Prebuilt):
                prebuilt += 1
                kept_events += sum(e.position in kept for e in m.message().events.events)
    return prebuilt, kept_events


def test_a_catch_up_from_kept_renderings_equals_rendering_them_whatever_the_worker_rendered(store: Store) -> None:
    store.steps(120)
    # nothing rendered yet: the server renders every event, as before (no prebuilt message)
    assert _check_same_stream(store) == (0, 0)
    store.project()
    kept = RenderedEvents(store.engine).read(0, store.registry.head())
    log = store.registry.read_log(0, 100_000)
    assert kept and set(kept) == {n.id for n in log if n.topic not in SKIPPED_TOPICS}
    prebuilt, kept_events = _check_same_stream(store)
    assert prebuilt and kept_events
    # the worker behind the head: the first part kept, the rest rendered by the server, in one stream
    store.steps(120)
    head_kept = max(kept)
    assert store.registry.head() > head_kept
    prebuilt_mixed, _ = _check_same_stream(store)
    assert prebuilt_mixed >= prebuilt
    # ... and, for a filtered stream (the kept renderings looked up by position), a message that
    # holds both kept events and events rendered here
    mixed = [m for s in _subscriptions(store)[3:] for m in _catch_up(_servicer(store, True), s)
             if isinstance(m, Prebuilt) and {e.position in kept for e in m.message().events.events} == {True, False}]
    assert mixed
    # the worker catches up again (a chunk applied to the existing generation, not a build)
    store.project()
    assert max(RenderedEvents(store.engine).read(0, store.registry.head())) > head_kept
    _check_same_stream(store)


def test_kept_renderings_are_not_used_for_a_confined_caller_or_compact_serials(store: Store) -> None:
    store.steps(60)
    store.project()
    servicer = _servicer(store, True)
    confined = subscription_of(pb.SubscribeEventsRequest(max_events_per_message=100), 1.0)  # sees_all False
    assert not confined.sees_all
    assert all(not isinstance(m, Prebuilt) for m in _catch_up(servicer, confined))
    compact = dataclasses.replace(
        subscription_of(pb.SubscribeEventsRequest(max_events_per_message=100, compact_serials=True), 1.0),
        sees_all=True)
    assert all(not isinstance(m, Prebuilt) for m in _catch_up(servicer, compact))
    plain = dataclasses.replace(confined, sees_all=True)
    assert any(isinstance(m, Prebuilt) for m in _catch_up(servicer, plain))


def test_renderings_of_another_version_are_not_used(store: Store) -> None:
    store.steps(40)
    store.project()
    assert RenderedEvents(store.engine).read(0, store.registry.head())

    class Newer(EventStream):
        version = EventStream.version + 1

    reader = RenderedEvents(store.engine)
    reader._projection = Newer()
    assert reader.read(0, store.registry.head()) == {}


def _expected_rows(store: Store) -> dict[int, bytes]:
    """Every stored event's rendering (request records left out), as the server renders it."""
    projection = EventStream()
    projection.bind(store.registry)
    render = projection._render
    assert render is not None
    return {n.id: render(n) for n in store.registry.read_log(0, 100_000) if n.topic not in SKIPPED_TOPICS}


def _rows(store: Store, generation: int) -> dict[int, bytes]:
    rows = dump_generation(store.engine, EventStream(), generation)["event"]
    return {int(r["position"]): bytes(r["message"]) for r in rows}


def test_a_rebuild_writes_the_renderings_chunk_by_chunk(store: Store) -> None:
    """Bounded memory: a rebuild of the event stream writes each chunk's rows as it goes (the building
    generation holds rows before the log head is reached), and ends with every event's rendering."""
    store.steps(80)
    store.project()
    before = active_generation_of(store)
    seen: list[tuple[int, int]] = []  # (position reached, rows stored then in the building generation)

    def progress(position: int, head: int) -> None:
        with reading(store.engine) as conn:
            building = [g for g in generations(conn, "event_stream") if g.status == BUILDING]
        assert len(building) == 1
        seen.append((position, len(_rows(store, building[0].generation))))

    gen = rebuild(store.registry, store.engine, EventStream(), chunk_size=13, progress=progress)
    assert gen.generation != before
    assert len(seen) > 3
    head = store.registry.head()
    assert any(rows > 0 and position < head for position, rows in seen)  # written before the end
    assert [rows for _, rows in seen] == sorted(rows for _, rows in seen)
    assert _rows(store, gen.generation) == _expected_rows(store)


def test_a_first_build_by_the_runner_writes_chunk_by_chunk(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner's first build of the event stream (an empty active generation) moves its position page by
    page (each page's rows with it), not once at the end; the rows are every event's rendering."""
    import projections.runner as runner_module

    store.steps(80)
    monkeypatch.setattr(runner_module, "REBUILD_CHUNK", 11)
    positions: list[int] = []
    real = engine_apply_chunk

    def recording(*args: object, **kwargs: object) -> int:
        done = real(*args, **kwargs)  # type: ignore[arg-type]
        with reading(store.engine) as conn:
            positions.append(max(g.position for g in generations(conn, "event_stream")))
        return done

    monkeypatch.setattr(runner_module, "apply_chunk", recording)
    store.project()
    assert len(positions) > 3 and positions == sorted(positions) and positions[0] > 0
    assert _rows(store, active_generation_of(store)) == _expected_rows(store)


def active_generation_of(store: Store) -> int:
    with reading(store.engine) as conn:
        found = [g.generation for g in generations(conn, "event_stream") if g.status == ACTIVE]
    assert len(found) == 1
    return found[0]
