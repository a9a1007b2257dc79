"""SubscribeEvents: catch-up, live follow, checkpoints, filters, and resuming without loss or
duplicates."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import duration_pb2

from projections.event_stream import SKIPPED_TOPICS
from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import events_pb2 as e
from registry.application import commands as cmd
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.server.event_messages import EventRenderer
from registry.server.stream_rendering import RenderedEvents
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.world import build_world, new_request_id, place_order


def log_positions(server: RunningServer, after: int = 0) -> list[int]:
    return [n.id for n in server.registry.read_log(after, 10_000)]


def read_until(
    stream: Iterator[e.SubscribeEventsResponse], done: Callable[[list[e.Event], e.Checkpoint | None], bool]
) -> tuple[list[e.Event], e.Checkpoint | None]:
    """Read messages until ``done(events so far, last checkpoint)``; return what was read."""
    events: list[e.Event] = []
    checkpoint: e.Checkpoint | None = None
    for message in stream:
        if message.WhichOneof("content") == "events":
            events.extend(message.events.events)
        else:
            checkpoint = message.checkpoint
        if done(events, checkpoint):
            break
    return events, checkpoint


def caught_up(events: list[e.Event], checkpoint: e.Checkpoint | None) -> bool:
    return checkpoint is not None and checkpoint.position == checkpoint.head


def subscribe(api: Stubs, **request: Any) -> Any:
    # every event, the commands' RequestRecord.Handled included, so positions run without gaps
    return api.events.SubscribeEvents(
        e.SubscribeEventsRequest(**{"include_request_records": True, **request}), timeout=60)


def test_a_subscriber_catches_up_follows_live_and_resumes_after_a_disconnect_without_gap_or_duplicate(
    start_server: Callable[..., RunningServer], store_url: str
) -> None:
    server = start_server(store_url)
    api = server.stubs()
    w = build_world(api)
    batch = place_order(api, w)

    stream = subscribe(api, max_events_per_message=3)
    history, checkpoint = read_until(stream, caught_up)
    assert checkpoint is not None and checkpoint.position == server.head()
    assert [ev.position for ev in history] == log_positions(server)

    live = api.commands.CorrectOrder(
        c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, po_number="PO-LIVE", reason="live")
    )
    followed, _ = read_until(stream, lambda evs, cp: bool(evs) and evs[-1].position >= live.position)
    assert [ev.position for ev in followed] == log_positions(server, checkpoint.position)
    corrected = followed[-2]  # the command's last event is its RequestRecord.Handled
    assert corrected.type == "GpuBatch.OrderCorrected" and corrected.aggregate_id == batch
    assert followed[-1].type == "RequestRecord.Handled"
    stream.cancel()

    last_seen = followed[-1].position
    missed = [
        api.commands.CorrectOrder(
            c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, po_number=f"PO-{n}", reason="offline")
        )
        for n in range(3)
    ]
    resumed = subscribe(api, after_position=last_seen)
    rest, final = read_until(resumed, caught_up)
    resumed.cancel()

    received = [ev.position for ev in history + followed + rest]
    assert received == log_positions(server), "every event exactly once, in log order"
    assert rest[-1].position == missed[-1].position and final is not None and final.position == server.head()


def test_events_written_by_another_process_reach_a_live_subscriber(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url)
    api = server.stubs()
    stream = subscribe(api)
    _, checkpoint = read_until(stream, caught_up)
    assert checkpoint is not None

    other = build_registry(Settings(database_url=sqlite_url))
    try:
        written = other.register_party(
            "batch-importer",
            cmd.parse(
                cmd.RegisterParty,
                {"name": "SK Telecom", "country": "KR", "roles": ["end_user"], "headquarters_country": "KR"},
            ),
        )
    finally:
        other.close()

    events, _ = read_until(stream, lambda evs, cp: bool(evs))
    stream.cancel()
    assert [(ev.position, ev.type, ev.actor) for ev in events] == [
        (written.position, "Party.Registered", "batch-importer")
    ]


def test_a_subscription_filtered_by_type_and_batch_gets_only_those_events_and_checkpoints_past_the_rest(
    server: RunningServer, api: Stubs
) -> None:
    w = build_world(api)
    mine, other = place_order(api, w), place_order(api, w)
    for batch in (mine, other, mine):
        api.commands.CorrectOrder(
            c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, po_number="PO-9", reason="renumbered")
        )

    by_batch, checkpoint = read_until(subscribe(api, batch_id=mine), caught_up)
    assert [(ev.aggregate_id, ev.aggregate_version) for ev in by_batch] == [(mine, 1), (mine, 2), (mine, 3)]
    assert checkpoint is not None and checkpoint.position == server.head()

    by_type, _ = read_until(subscribe(api, event_types=["GpuBatch.Ordered", "Party.Registered"]), caught_up)
    assert {ev.type for ev in by_type} == {"GpuBatch.Ordered", "Party.Registered"}
    assert len(by_type) == 2 + 5

    both, _ = read_until(subscribe(api, batch_id=other, event_types=["GpuBatch.OrderCorrected"]), caught_up)
    assert [(ev.aggregate_id, ev.type) for ev in both] == [(other, "GpuBatch.OrderCorrected")]


def test_an_idle_subscriber_receives_checkpoints_saying_where_it_stands(
    server: RunningServer, api: Stubs
) -> None:
    build_world(api)
    stream = subscribe(api, heartbeat_interval=duration_pb2.Duration(nanos=100_000_000))

    messages = [next(stream) for _ in range(3)]
    stream.cancel()

    kinds = [m.WhichOneof("content") for m in messages]
    assert kinds == ["events", "checkpoint", "checkpoint"]
    head = server.head()
    assert [(m.checkpoint.position, m.checkpoint.head) for m in messages[1:]] == [(head, head), (head, head)]


def test_a_subscription_from_the_head_of_an_empty_log_starts_with_a_checkpoint(api: Stubs) -> None:
    stream = subscribe(api)
    first = next(stream)
    stream.cancel()
    assert first.WhichOneof("content") == "checkpoint"
    assert (first.checkpoint.position, first.checkpoint.head) == (0, 0)


def test_stopping_the_server_ends_open_subscriptions_cleanly_with_a_last_checkpoint(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url)
    api = server.stubs()
    build_world(api)
    stream = subscribe(api)
    _, checkpoint = read_until(stream, caught_up)

    stopping = server.run(lambda: server.server.stop(grace=5))
    rest = list(stream)  # the stream ends (no error) when the server drains it
    stopping.result(timeout=30)

    assert stream.code() == grpc.StatusCode.OK
    assert checkpoint is not None
    assert [m.WhichOneof("content") for m in rest] == ["checkpoint"]
    assert rest[0].checkpoint.position == checkpoint.position


def _expand_runs(items: list[Any]) -> list[str]:
    """The serials a compact-serials payload names, read as events.proto documents the form."""
    serials: list[str] = []
    for item in items:
        if isinstance(item, str):
            serials.append(item)
            continue
        prefix, first, last, *rest = item
        skipped = set(rest[0]) if rest else set()
        serials.extend(f"{prefix}{n:0{len(first)}d}" for n in range(int(first), int(last) + 1) if n not in skipped)
    return serials


def test_a_compact_serials_subscriber_gets_the_same_events_naming_exactly_the_same_serials_as_runs(
    start_server: Callable[..., RunningServer], store_url: str
) -> None:
    from registry.demo.load import load_in_process
    from registry.demo.scenario import korea_deployment
    from registry.demo.server_process import PLANNED_TIMELINE_SECONDS

    server = start_server(store_url, max_occurred_ahead_seconds=PLANNED_TIMELINE_SECONDS)
    load_in_process(server.registry, korea_deployment(scale=0.01))
    api = server.stubs()

    expanded, _ = read_until(subscribe(api, max_events_per_message=50), caught_up)
    compact, _ = read_until(subscribe(api, max_events_per_message=50, compact_serials=True), caught_up)

    assert len(compact) == len(expanded) == server.head()
    as_runs = serials_named = 0
    for listed, ranged in zip(expanded, compact, strict=True):
        assert (listed.position, listed.type, listed.aggregate_id, listed.occurred_at) == (
            ranged.position, ranged.type, ranged.aggregate_id, ranged.occurred_at)
        full, short = json.loads(listed.payload_json), json.loads(ranged.payload_json)
        assert full.keys() == short.keys()
        for key, value in full.items():
            if short[key] != value:
                assert _expand_runs(short[key]) == value, (listed.position, key)
                as_runs += 1
                serials_named += len(value)
    assert as_runs > 100 and serials_named > 10 * as_runs  # the demo's movements, in runs
    assert sum(len(e.payload_json) for e in compact) < sum(len(e.payload_json) for e in expanded)

    # The event stream read model caught up: a default subscription (no request records) is sent
    # as bytes joined from its renderings, which the client parses to what the server renders.
    read_models = server.server.read_models
    assert read_models is not None and read_models.wait_for_position(server.head(), 60, ["event_stream"])
    kept, covered = RenderedEvents(read_models.engine).after(0, 100_000)
    assert covered == server.head() and kept
    default, _ = read_until(api.events.SubscribeEvents(
        e.SubscribeEventsRequest(max_events_per_message=50), timeout=60), caught_up)
    rendered = e.EventBatch()
    EventRenderer(server.registry, 0).render_rows_into(
        rendered.events, server.registry.read_log_rows(0, 100_000, (), tuple(SKIPPED_TOPICS)))
    assert [x.position for x in default] == [p for p, _ in kept]
    assert [x.SerializeToString() for x in default] == [x.SerializeToString() for x in rendered.events]
