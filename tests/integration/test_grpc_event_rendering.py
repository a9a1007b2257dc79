"""Every event the registry writes can be named in a subscription filter and rendered for the API."""

from __future__ import annotations

import dataclasses
import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from eventsourcing.persistence import Notification

from projections.db import open_engine
from projections.event_stream import SKIPPED_TOPICS, EventStream
from projections.runner import ProjectionRunner
from registry.api.v1 import events_pb2
from registry.application import commands as c
from registry.application import location_commands as lc
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.server.convert import event_message, event_topics, event_type_of_topic
from registry.server.event_messages import EventRenderer
from registry.server.stream_rendering import RenderedEvents
from tests.builders import ACTOR, make_world
from tests.integration.compliance_world import STORY_YEARS_AHEAD
from tests.integration.compliance_world import World as ComplianceWorld
from tests.location_agents import Agent
from tests.projection_workload import KINDS, Driver


def test_every_event_a_lifecycle_writes_is_in_the_catalog_and_renders_as_json(store_url: str) -> None:
    registry = build_registry(Settings(database_url=store_url))
    try:
        actor = "officer-kim"
        party = registry.register_party(
            actor,
            c.parse(
                c.RegisterParty,
                {
                    "name": "Korea AI Compute",
                    "country": "KR",
                    "roles": ["purchaser"],
                    "headquarters_country": "KR",
                },
            ),
        )
        model = registry.register_gpu_model(
            actor,
            c.parse(
                c.RegisterGpuModel,
                {
                    "vendor": "NVIDIA",
                    "name": "B200",
                    "dense_tops": {"fp8": "4500"},
                    "bit_lengths": {"fp8": 8},
                    "die_area_mm2": "1600",
                    "datacenter_marketed": True,
                    "tdp_watts": 1000,
                },
            ),
        )
        registry.amend_reference(
            actor,
            c.parse(
                c.AmendReference,
                {
                    "kind": "party",
                    "target_id": party.aggregate_id,
                    "fields": {"name": "KAIC"},
                    "reason": "rename",
                },
            ),
        )
        batch = registry.place_order(
            actor,
            c.parse(
                c.PlaceOrder,
                {
                    "request_id": str(uuid.uuid4()),
                    "po_number": "PO-1",
                    "supplier_id": party.aggregate_id,
                    "buyer_id": party.aggregate_id,
                    "model_id": model.aggregate_id,
                    "quantity": 2,
                    "unit_price": "1.5",
                    "currency": "USD",
                    "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
                },
            ),
        )
        registry.register_serials(
            actor,
            c.parse(
                c.RegisterSerials,
                {"batch_id": batch.aggregate_id, "units": [{"serial": "S1"}, {"serial": "S2"}]},
            ),
        )
        registry.split_batch(
            actor, c.parse(c.SplitBatch, {"batch_id": batch.aggregate_id, "serials": ["S2"]})
        )

        catalog = set(event_topics().values())
        rendered = []
        for position, event in registry.iter_log():
            message = event_message(event, position)
            rendered.append(message)
            assert event_topics()[message.type] in catalog
            json.loads(message.payload_json)
    finally:
        registry.close()

    types = [m.type for m in rendered]
    assert {
        "Party.Registered",
        "Party.Amended",
        "GpuModel.Registered",
        "GpuBatch.Ordered",
        "RequestRecord.Handled",
        "GpuBatch.SplitFrom",
        "GpuBatch.SplitOff",
    } <= set(types)
    assert {m.actor for m in rendered} == {"officer-kim"}
    ordered = next(m for m in rendered if m.type == "GpuBatch.Ordered")
    payload = json.loads(ordered.payload_json)
    assert payload["unit_price"] == "1.5" and payload["model_id"] == model.aggregate_id.__str__()
    assert ordered.occurred_at.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 1, tzinfo=UTC)


# ----------------------------------------------------------------- the fast (no domain) path


def _domain_rendering(registry: Registry, n: Notification, compact_serials: bool = False) -> bytes:
    return event_message(registry.decode(n), n.id, compact_serials).SerializeToString(deterministic=True)


def test_events_rendered_from_stored_json_equal_the_domain_rendering_for_every_event_type(
    store_url: str,
) -> None:
    """EventRenderer (what SubscribeEvents sends) gives, byte for byte, the message of the domain
    round trip (decode, then ``payload_json``), and takes its fast path for every event type."""
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    world = ComplianceWorld(
        build_registry(Settings(database_url=store_url, **STORY_YEARS_AHEAD), clock=lambda: t0), t0)
    registry = world.registry
    try:
        # every batch step, randomly but reproducibly (the projection tests' workload)
        driver = Driver(make_world(registry))
        rng = random.Random(2026)  # a seed whose 400 steps write every batch event type (2025 did, before 5 Dec 2026)
        for _ in range(400):
            driver.step(rng.randrange(KINDS), rng)
        # which steps succeed varies with the world's random ids, and a model amended to 8 GPUs per
        # unit (4A090) strands the batches cleared as 3A090 (Ship refuses a stale ECCN): put the
        # model back and go on until the rarest kind (a repair needs units received first) is in the log
        for _ in range(40):
            if any(n.topic.endswith(":GpuBatch.Repaired") for n in registry.read_log(0, 100_000)):
                break
            registry.amend_reference(ACTOR, c.parse(c.AmendReference, {
                "kind": "gpu_model", "target_id": driver.world.b200, "fields": {"gpus_per_unit": 1},
                "reason": "corrected"}))
            for _ in range(20):
                driver.step(rng.randrange(KINDS), rng)
        # screening: a list snapshot (its entries are left out), a case, a hit and its resolution
        world.party("samsung", "Samsung Electronics Co., Ltd.")
        world.import_list(("el-1", "SAMSUNG ELECTRONICS CO LTD"), ("el-2", "Zürich Précision AG"))
        world.resolve("samsung", "false_positive", note="adresse vérifiée ✓")
        authorization = world.authorization("lic")
        registry.amend_reference(
            "officer-kim",
            c.parse(c.AmendReference, {"kind": "authorization", "target_id": authorization,
                                       "fields": {"eccns": ["3A090", "4A090"]}, "reason": "scope"}),
        )
        # non-ASCII text in a payload, a business time in another time zone, a request_id
        registry.register_party(
            "officer-kim",
            c.parse(
                c.RegisterParty,
                {
                    "request_id": "party-kr-1",
                    "name": "삼성전자 \u007f \"quoted\" \\ tab\t",
                    "country": "KR",
                    "roles": ["purchaser"],
                    "headquarters_country": "KR",
                    "occurred_at": datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))),
                },
            ),
        )

        # a host agent: registered, one signed check-in of serials the driver registered, revoked
        agent = Agent(uuid.uuid4())
        w = driver.world
        registry.register_host_agent("officer-kim", c.parse(lc.RegisterHostAgent, dict(
            agent_id=agent.agent_id, public_key=agent.public_key, site_id=w.site, partner_id=w.samsung)))
        registered = [n for n in registry.read_log(0, 100_000) if n.topic.endswith(":GpuBatch.SerialsRegistered")]
        serials = list(registry.decode(registered[0]).serials[:3])
        registry.submit_location_attestation("agent", c.parse(lc.SubmitLocationAttestation, agent.check_in(
            1, t0, serials, "KR", w.site, "37.5", "127.0", "gnss")))
        registry.revoke_host_agent("officer-kim", c.parse(lc.RevokeHostAgent, dict(
            agent_id=agent.agent_id, reason="retired")))

        renderer = EventRenderer(registry)
        log = registry.read_log(0, 100_000)
        fast_types = set()
        batch = events_pb2.EventBatch()
        renderer.render_into(batch.events, log)
        # what SubscribeEvents renders: the driver's rows, not Notifications
        from_rows, from_rows_compact = events_pb2.EventBatch(), events_pb2.EventBatch()
        rows = registry.read_log_rows(0, 100_000)
        renderer.render_rows_into(from_rows.events, rows)
        renderer.render_rows_into(from_rows_compact.events, rows, compact_serials=True)
        for n, in_place, row, row_compact in zip(
                log, batch.events, from_rows.events, from_rows_compact.events, strict=True):
            domain = _domain_rendering(registry, n)
            assert renderer.message(n).SerializeToString(deterministic=True) == domain
            assert in_place.SerializeToString(deterministic=True) == domain
            assert row.SerializeToString(deterministic=True) == domain
            compact = renderer.message(n, compact_serials=True).SerializeToString(deterministic=True)
            assert compact == _domain_rendering(registry, n, compact_serials=True)
            assert row_compact.SerializeToString(deterministic=True) == compact
            try:
                fast = renderer._fast(n)
            except Exception:  # left to the domain path: checked above
                continue
            assert fast.SerializeToString(deterministic=True) == domain
            fast_types.add(fast.type)
        written = {event_type_of_topic(n.topic) for n in log}

        # what the projection worker keeps for SubscribeEvents (projections/event_stream.py): the
        # same bytes, through a build of the whole log from empty and through chunks applied after it
        engine = open_engine(Settings(database_url=store_url))
        try:
            runner = ProjectionRunner(registry, engine, [EventStream()], use_subscription=False, chunk_size=50)
            try:
                runner.catch_up()
                for _ in range(80):  # more batch steps, applied in chunks of 50 to the built generation
                    driver.step(rng.randrange(KINDS), rng)
                runner.catch_up()
            finally:
                runner.stop()
            log = registry.read_log(0, 100_000)
            kept = RenderedEvents(engine).read(0, registry.head())
        finally:
            engine.dispose()
        kept_types = set()
        for n in log:
            if n.topic in SKIPPED_TOPICS:
                assert n.id not in kept
                continue
            domain = _domain_rendering(registry, n)
            assert kept[n.id] == domain
            live = renderer.message(n)
            assert type(live).FromString(kept[n.id]) == live
            kept_types.add(event_type_of_topic(n.topic))
    finally:
        registry.close()

    # the 80 steps after ``written`` was taken may add a type: every type written is kept
    assert written - {"RequestRecord.Handled"} <= kept_types <= set(event_topics()) - {"RequestRecord.Handled"}
    assert fast_types == written  # the fast path rendered every type written, not the fallback
    assert written == set(event_topics()), sorted(set(event_topics()) - written)


def _one_order(registry: Registry) -> tuple[uuid.UUID, Notification]:
    """A party (purchaser and supplier), a model and an order of 2 units; the party's id and the
    stored ``Ordered`` event."""
    party = registry.register_party(
        "officer-kim",
        c.parse(c.RegisterParty, {"name": "P", "country": "KR", "roles": ["purchaser", "supplier"],
                                  "headquarters_country": "KR"}),
    )
    model = registry.register_gpu_model(
        "officer-kim",
        c.parse(c.RegisterGpuModel, {"vendor": "NVIDIA", "name": "B200", "dense_tops": {"fp8": "4500"},
                                     "bit_lengths": {"fp8": 8}, "die_area_mm2": "1600",
                                     "datacenter_marketed": True, "tdp_watts": 1000}),
    )
    registry.place_order(
        "officer-kim",
        c.parse(c.PlaceOrder, {"po_number": "PO-1", "supplier_id": party.aggregate_id,
                               "buyer_id": party.aggregate_id, "model_id": model.aggregate_id,
                               "quantity": 2, "unit_price": "1.5", "currency": "USD"}),
    )
    ordered = next(n for n in registry.read_log(0, 1000) if n.topic.endswith(":GpuBatch.Ordered"))
    return party.aggregate_id, ordered


def test_an_event_the_fast_path_does_not_know_is_rendered_by_the_domain_path(store_url: str) -> None:
    """Stored states the fast path leaves alone: an older class version (upcast by the mapper),
    another transcoding, an envelope field of an unusual type. The messages still equal the
    domain rendering."""
    registry = build_registry(Settings(database_url=store_url))
    try:
        party_id, ordered = _one_order(registry)
        renderer = EventRenderer(registry)
    finally:
        registry.close()

    state = json.loads(ordered.state)
    assert state["class_version"] == 2
    v1 = {k: v for k, v in state.items() if k not in ("class_version", "allocation_program")}
    unit = {"_type_": "Unit", "_data_": {"serial": "S1", "gpu_uuid": "", "stage": "ordered", "site": "",
                                         "owner": "", "assignee": "", "shipment_id": "", "rack": "",
                                         "host": ""}}
    variants = {
        "v1, upcast": v1,
        "another transcoding": {**state, "note": [unit]},
        "actor not a string": {**state, "actor": {"_type_": "uuid_hex", "_data_": party_id.hex}},
        "actor a serial set": {**state, "actor": {"_type_": "serials", "_data_": [["S", "1", "3"]]}},
        "no occurred_at": {k: v for k, v in state.items() if k != "occurred_at"},
        "occurred_at null": {**state, "occurred_at": None},
    }
    for name, variant in variants.items():
        n = dataclasses.replace(ordered, state=json.dumps(variant).encode())
        rendered = renderer.message(n)
        assert rendered.SerializeToString(deterministic=True) == _domain_rendering(registry, n), name
    upcast = renderer.message(dataclasses.replace(ordered, state=json.dumps(v1).encode()))
    assert json.loads(upcast.payload_json)["allocation_program"] == "unspecified"


def test_serial_sets_render_as_every_serial_in_order_or_as_their_runs(store_url: str) -> None:
    """Runs with and without exceptions, single serials, a prefix JSON must escape (and a ``%``):
    the expanded text equals the domain path's list; the compact form is the set's runs; a stored
    escaped NUL (which the fast path's placeholders could be taken for) renders as the domain path."""
    registry = build_registry(Settings(database_url=store_url))
    try:
        _, ordered = _one_order(registry)
        renderer = EventRenderer(registry)
        state = json.loads(ordered.state)
        sets = {
            "runs": [["KR-\"%d-", "0098", "0103"], ["KR-\"%d-", "0200", "0210", [201, 205]], "odd-one", "Zürich-1"],
            "runs without padding": [["Ü\"%s", "100", "104"], ["", "7", "9"], ["", "0", "0"], ["x", "5", "5"]],
            "empty": [],
            "a NUL in a serial": ["S\u00001", ["S", "1", "3"]],
        }
        for name, compact in sets.items():
            n = dataclasses.replace(
                ordered, state=json.dumps({**state, "note": {"_type_": "serials", "_data_": compact}}).encode())
            for twice in (1, 2):  # the second time from the renderer's cache
                expanded = renderer.message(n)
                assert expanded.SerializeToString(deterministic=True) == _domain_rendering(registry, n), (name, twice)
                as_runs = renderer.message(n, compact_serials=True)
                assert as_runs.SerializeToString(deterministic=True) == _domain_rendering(
                    registry, n, compact_serials=True), (name, twice)
            assert json.loads(as_runs.payload_json)["note"] == compact
        listed = json.loads(renderer.message(dataclasses.replace(
            ordered, state=json.dumps({**state, "note": {"_type_": "serials", "_data_": sets["runs"]}}).encode()
        )).payload_json)["note"]
    finally:
        registry.close()
    assert listed == [*(f'KR-"%d-{i:04d}' for i in range(98, 104)),
                      *(f'KR-"%d-{i:04d}' for i in range(200, 211) if i not in (201, 205)), "odd-one", "Zürich-1"]


def test_a_second_catch_up_is_rendered_from_kept_renderings_equal_to_the_domain_path(store_url: str) -> None:
    """The renderer keeps what it rendered (until the kept take ``keep_bytes``) and renders a
    position again from it only for the same stored event: a row with another state at that
    position is rendered from its own state."""
    registry = build_registry(Settings(database_url=store_url))
    try:
        _, ordered = _one_order(registry)
        rows = registry.read_log_rows(0, 1000)
        log = registry.read_log(0, 1000)
        renderer = EventRenderer(registry)
        for compact in (False, True, False, True):
            batch = events_pb2.EventBatch()
            renderer.render_rows_into(batch.events, rows, compact_serials=compact)
            for n, message in zip(log, batch.events, strict=True):
                assert message.SerializeToString(deterministic=True) == _domain_rendering(registry, n, compact)
        kept = renderer._rendered
        assert set(kept) == {(row[0], compact) for row in rows for compact in (False, True)}
        smaller = EventRenderer(registry, keep_bytes=renderer._kept_bytes - 1)
        smaller.render_rows_into(events_pb2.EventBatch().events, rows, compact_serials=True)
        smaller.render_rows_into(events_pb2.EventBatch().events, rows)
        assert smaller._kept_bytes < renderer._kept_bytes  # no more than fits; the first kept stay
        assert (rows[0][0], True) in smaller._rendered and (rows[-1][0], False) not in smaller._rendered

        position = ordered.id
        assert (position, False) in kept
        changed = {**json.loads(ordered.state), "po_number": "PO-CHANGED"}
        row = next(r for r in rows if r[0] == position)
        again = events_pb2.EventBatch()
        renderer.render_rows_into(again.events, [(*row[:4], json.dumps(changed).encode())])
    finally:
        registry.close()
    assert json.loads(again.events[0].payload_json)["po_number"] == "PO-CHANGED"


def test_log_rows_are_the_notifications_filtered_by_type_batch_and_left_out_types_in_pages(store_url: str) -> None:
    """What SubscribeEvents reads (``Registry.read_log_rows``) is ``read_log`` filtered in the
    store: the positions, ids, versions, topics and states of the matching events, in order, a
    page of ``limit`` matching events at a time."""
    registry = build_registry(Settings(database_url=store_url))
    try:
        _one_order(registry)
        log = registry.read_log(0, 1000)
        ordered = next(n for n in log if n.topic.endswith(":GpuBatch.Ordered"))
        party_topic = next(n.topic for n in log if n.topic.endswith(":Party.Registered"))

        def read_all(limit: int, **filters: Any) -> list[tuple[int, Any, int, str, bytes]]:
            rows: list[tuple[int, Any, int, str, bytes]] = []
            after = 0
            while page := registry.read_log_rows(after, limit, **filters):
                assert len(page) <= limit
                rows.extend(page)
                after = page[-1][0]
            return rows

        def expected(keep: Callable[[Notification], bool]) -> list[tuple[int, str, int, str, bytes]]:
            return [(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
                    for n in log if keep(n)]

        def plain(rows: list[tuple[int, Any, int, str, bytes]]) -> list[tuple[int, str, int, str, bytes]]:
            return [(p, str(uuid.UUID(i)), v, t, bytes(s)) for p, i, v, t, s in rows]

        assert plain(read_all(2)) == expected(lambda n: True)
        assert plain(read_all(1, topics=[party_topic])) == expected(lambda n: n.topic == party_topic)
        assert plain(read_all(2, skip_topics=(party_topic,))) == expected(lambda n: n.topic != party_topic)
        assert plain(read_all(1, originator_id=ordered.originator_id)) == expected(
            lambda n: n.originator_id == ordered.originator_id)
    finally:
        registry.close()
