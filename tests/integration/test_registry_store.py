"""The registry application on real stores: the same suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.batch import GpuBatch, Stage
from registry.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidField,
    NotFound,
    SerialAlreadyRegistered,
)
from tests.builders import ACTOR, T0, World, make_world


@pytest.fixture
def registry(store_url: str) -> Iterator[Registry]:
    app = build_registry(Settings(database_url=store_url, snapshot_interval=4))
    yield app
    app.close()


@pytest.fixture
def world(registry: Registry) -> World:
    return make_world(registry)


def test_a_batch_of_72_gpus_walks_from_order_to_assignment(world: World) -> None:
    batch = world.order(72)
    world.clear(batch)
    serials = world.serials(batch)
    world.ship(batch, "SHP-1", serials=serials[:40])
    world.ship(batch, "SHP-2", serials=serials[40:], occurred_at=T0 + timedelta(days=5))
    for shipment, part in (("SHP-1", serials[:40]), ("SHP-2", serials[40:])):
        world.do(
            "receive",
            c.Receive,
            batch_id=batch,
            shipment_id=shipment,
            receiving_party_id=world.samsung,
            site_id=world.site,
            serials=part,
            occurred_at=T0 + timedelta(days=9),
        )
    world.do(
        "install",
        c.Install,
        batch_id=batch,
        site_id=world.site,
        rack="PT-A01",
        host="nvl72-01",
        serials=serials,
        occurred_at=T0 + timedelta(days=12),
    )
    result = world.do(
        "assign",
        c.Assign,
        batch_id=batch,
        assignee_id=world.samsung,
        purpose="semiconductor design AI factory",
        serials=serials,
        occurred_at=T0 + timedelta(days=14),
    )

    b = world.registry.get_batch(batch)
    assert b.stage == "assigned"
    assert b.units_by_stage()[Stage.ASSIGNED] == 72
    assert result.version == b.version
    assert result.position == world.registry.head()
    assert {u.site for u in b.units.values()} == {world.site.hex}
    history = world.registry.history(batch)
    assert [type(e).__name__ for e in history] == [
        "Ordered",
        "ClearanceRequested",
        "ClearanceGranted",
        "SerialsRegistered",
        "Shipped",
        "Shipped",
        "Received",
        "Received",
        "Installed",
        "Assigned",
    ]
    assert all(e.actor == ACTOR for e in history)  # type: ignore[attr-defined]
    assert history[-1].occurred_at == T0 + timedelta(days=14)  # type: ignore[attr-defined]


def test_replay_with_and_without_snapshots_gives_identical_state(world: World, store_url: str) -> None:
    batch = world.order(12)
    world.clear(batch, 12)
    serials = world.serials(batch, 12)
    for i in range(6):  # enough events to pass several snapshot intervals
        world.ship(batch, f"S{i}", serials=serials[2 * i : 2 * i + 2])
    with_snapshots = world.registry.get_batch(batch)
    assert world.registry.snapshots is not None
    assert list(world.registry.snapshots.get(batch)), "snapshots were taken"

    plain = Registry(env={**build_env(store_url), "IS_SNAPSHOTTING_ENABLED": "n"})
    try:
        assert plain.snapshots is None
        without = plain.get_batch(batch)
    finally:
        plain.close()
    assert state(without) == state(with_snapshots)


def build_env(url: str) -> dict[str, str]:
    from registry.infrastructure.store import event_store_env

    return event_store_env(url)


def state(agg: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(agg).items() if k not in ("_pending_events", "_modified_on")}


def test_two_connections_writing_one_batch_conflict_on_expected_version(world: World, store_url: str) -> None:
    batch = world.order(10)
    other = build_registry(Settings(database_url=store_url))
    try:
        v = world.registry.get_batch(batch).version
        world.do(
            "correct_order",
            c.CorrectOrder,
            batch_id=batch,
            unit_price="37000",
            reason="discount",
            expected_version=v,
        )
        with pytest.raises(ConcurrencyConflict) as e:
            other.correct_order(
                ACTOR,
                c.parse(
                    c.CorrectOrder,
                    dict(batch_id=batch, unit_price="36000", reason="another discount", expected_version=v),
                ),
            )
        assert e.value.expected == v and e.value.actual == v + 1
    finally:
        other.close()
    assert world.registry.get_batch(batch).unit_price == Decimal("37000")


def test_concurrent_writers_without_expected_version_lose_no_update(world: World, store_url: str) -> None:
    batch = world.order(16)
    world.clear(batch, 16)
    apps = [build_registry(Settings(database_url=store_url)) for _ in range(4)]
    errors: list[BaseException] = []

    def ship(app: Registry, k: int) -> None:
        try:
            for j in range(4):
                app.ship(
                    ACTOR,
                    c.parse(
                        c.Ship,
                        dict(batch_id=batch, shipment_id=f"T{k}-{j}", destination_country="KR", quantity=1),
                    ),
                )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=ship, args=(a, k)) for k, a in enumerate(apps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in apps:
        a.close()
    assert errors == []
    b = world.registry.get_batch(batch)
    assert b.totals["shipped"] == 16
    assert len(b.shipments) == 16


def test_a_request_id_is_answered_once_even_after_reopening_the_store(world: World, store_url: str) -> None:
    data = dict(
        po_number="PO-9",
        supplier_id=world.nvidia,
        buyer_id=world.naver,
        model_id=world.b200,
        quantity=8,
        unit_price="1.00",
        currency="USD",
        request_id="order-PO-9",
    )
    first = world.do("place_order", c.PlaceOrder, **data)
    head = world.registry.head()
    reopened = build_registry(Settings(database_url=store_url))
    try:
        again = reopened.place_order(ACTOR, c.parse(c.PlaceOrder, data))
        assert again.replayed
        assert (again.aggregate_id, again.version, again.position) == (
            first.aggregate_id,
            first.version,
            first.position,
        )
        assert reopened.head() == head
        with pytest.raises(IdempotencyKeyReused):
            reopened.place_order(ACTOR, c.parse(c.PlaceOrder, {**data, "quantity": 9}))
    finally:
        reopened.close()
    assert world.registry.head() == head


def test_an_idempotent_change_command_replays_its_result(world: World) -> None:
    batch = world.order(4)
    world.clear(batch, 4)
    first = world.ship(batch, "S1", quantity=2, request_id="ship-1")
    head = world.registry.head()
    again = world.ship(batch, "S1", quantity=2, request_id="ship-1")
    assert again.replayed and again.version == first.version and again.position == first.position
    assert world.registry.head() == head


def test_decimals_uuids_and_aware_datetimes_round_trip(world: World, store_url: str) -> None:
    seoul = timezone(timedelta(hours=9))
    when = T0.astimezone(seoul)
    batch = world.order(3, unit_price="38500.123456", occurred_at=when)
    reopened = build_registry(Settings(database_url=store_url))
    try:
        b = reopened.get_batch(batch)
        ordered = reopened.history(batch)[0]
    finally:
        reopened.close()
    assert b.unit_price == Decimal("38500.123456")
    assert b.buyer_id == world.samsung and b.id == batch
    assert ordered.occurred_at == when  # type: ignore[attr-defined]
    assert ordered.occurred_at.utcoffset() == timedelta(hours=9)  # type: ignore[attr-defined]
    assert ordered.timestamp.tzinfo is not None


def test_a_serial_belongs_to_one_batch_in_the_whole_registry(world: World) -> None:
    first = world.order(2)
    second = world.order(2, po_number="PO-2")
    world.do(
        "register_serials",
        c.RegisterSerials,
        batch_id=first,
        units=[{"serial": "sn-0001"}, {"serial": "SN-0002"}],
    )
    head = world.registry.head()
    with pytest.raises(SerialAlreadyRegistered) as e:
        world.do(
            "register_serials",
            c.RegisterSerials,
            batch_id=second,
            units=[{"serial": "SN-9999"}, {"serial": " sn-0001 "}],
        )
    assert e.value.serials == ["SN-0001"]
    assert world.registry.head() == head
    assert world.registry.get_batch(second).units == {}
    assert world.registry.batch_of_serial("sn-0002") == first


def test_bad_input_names_the_field_and_writes_nothing(world: World) -> None:
    head = world.registry.head()
    with pytest.raises(InvalidField) as e:
        world.do(
            "place_order",
            c.PlaceOrder,
            po_number="PO",
            supplier_id=world.nvidia,
            buyer_id="not-a-uuid",
            model_id=world.b200,
            quantity=0,
            unit_price="-3",
            currency="usd",
        )
    fields = {f for f, _ in e.value.violations}
    assert {"buyer_id", "quantity", "unit_price", "currency"} <= fields
    batch = world.order(2)
    head = world.registry.head()
    with pytest.raises(IllegalTransition):
        world.ship(batch, "S1", quantity=1)
    with pytest.raises(NotFound):
        world.ship(uuid4(), "S1", quantity=1)
    with pytest.raises(NotFound):
        world.do(
            "place_order",
            c.PlaceOrder,
            po_number="PO",
            supplier_id=uuid4(),
            buyer_id=world.samsung,
            model_id=world.b200,
            quantity=1,
            unit_price="1",
            currency="USD",
        )
    assert world.registry.head() == head


def test_creating_an_aggregate_with_a_taken_id_is_refused(world: World) -> None:
    batch = world.order(2)
    with pytest.raises(AlreadyExists):
        world.order(2, batch_id=batch)


def test_a_split_moves_serial_claims_to_the_child(world: World) -> None:
    batch = world.order(6)
    world.clear(batch, 6)
    serials = world.serials(batch, 6)
    result = world.do("split_batch", c.SplitBatch, batch_id=batch, serials=serials[4:])
    child = world.registry.get_batch(result.aggregate_id)
    assert child.parent_id == batch and sorted(child.units) == serials[4:]
    assert world.registry.batch_of_serial(serials[5]) == child.id
    assert world.registry.batch_of_serial(serials[0]) == batch
    assert world.registry.get_batch(batch).quantity == 4


def test_reference_data_is_corrected_by_a_new_event(world: World) -> None:
    result = world.do(
        "amend_reference",
        c.AmendReference,
        kind="site",
        target_id=world.site,
        fields={"power_capacity_kw": "25000"},
        reason="substation upgrade",
    )
    site = world.registry.get("site", world.site)
    assert site.power_capacity_kw == Decimal("25000") and result.version == 2
    with pytest.raises(InvalidField) as e:
        world.do(
            "amend_reference",
            c.AmendReference,
            kind="site",
            target_id=world.site,
            fields={"power_capacity_kw": "-1"},
            reason="typo",
        )
    assert e.value.violations[0][0] == "power_capacity_kw"
    with pytest.raises(InvalidField):
        world.do(
            "amend_reference",
            c.AmendReference,
            kind="party",
            target_id=world.samsung,
            fields={"bogus": 1},
            reason="typo",
        )


def test_a_version_1_ordered_event_in_the_store_is_upcast_on_load(registry: Registry, world: World) -> None:
    batch = world.order(5)
    stored = registry.recorder.select_events(batch)[0]
    v1 = registry.mapper.transcoder.decode(stored.state)
    v1.pop("allocation_program")
    v1.pop("class_version", None)
    legacy_id = uuid4()
    v1["originator_id"] = legacy_id
    from eventsourcing.persistence import StoredEvent

    registry.recorder.insert_events(
        [
            StoredEvent(
                originator_id=legacy_id,
                originator_version=1,
                topic=stored.topic,
                state=registry.mapper.transcoder.encode(v1),
            )
        ]
    )
    legacy = registry.get_batch(legacy_id)
    assert legacy.allocation_program == "unspecified"
    assert legacy.quantity == 5


def test_the_serial_index_answers_which_batch_holds_a_serial(world: World) -> None:
    batch = world.order(1)
    world.do("register_serials", c.RegisterSerials, batch_id=batch, units=[{"serial": "abc"}])
    assert world.registry.claimed(["ABC", "XYZ"]) == {"ABC": batch}
    assert isinstance(world.registry.get_batch(batch), GpuBatch)
    with pytest.raises(NotFound):
        world.registry.batch_of_serial("XYZ")


def test_two_registries_racing_for_one_serial_let_exactly_one_win(world: World, store_url: str) -> None:
    batches = [world.order(1, po_number=f"PO-R{i}") for i in range(2)]
    apps = [build_registry(Settings(database_url=store_url)) for _ in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def register(app: Registry, batch: Any) -> None:
        barrier.wait()
        try:
            app.register_serials(ACTOR, c.parse(c.RegisterSerials, {"batch_id": batch, "units": [{"serial": "RACE-1"}]}))
            outcomes.append("won")
        except SerialAlreadyRegistered:
            outcomes.append("refused")

    threads = [threading.Thread(target=register, args=(a, b)) for a, b in zip(apps, batches, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in apps:
        a.close()
    assert sorted(outcomes) == ["refused", "won"]
    winner = world.registry.batch_of_serial("RACE-1")
    loser = next(b for b in batches if b != winner)
    assert world.registry.get_batch(loser).units == {}


def test_a_replayed_request_is_answered_by_an_index_lookup_not_a_log_scan(world: World) -> None:
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    from registry.infrastructure.store import position_of

    batch = world.order(2)
    result = world.do("correct_order", c.CorrectOrder, batch_id=batch, unit_price="1", reason="x", request_id="corr-1")
    recorder = world.registry.recorder
    assert position_of(recorder, batch, result.version) == result.position - 1  # the request record follows
    if isinstance(recorder, SQLiteApplicationRecorder):
        # Reading the whole log would call select_notifications; the index path never does.
        calls: list[int] = []
        original = recorder.select_notifications
        recorder.select_notifications = lambda *a, **k: calls.append(1) or original(*a, **k)  # type: ignore[method-assign]
        try:
            position_of(recorder, batch, result.version)
        finally:
            recorder.select_notifications = original  # type: ignore[method-assign]
        assert calls == []


def test_granting_after_a_split_clears_at_most_what_the_batch_still_holds(world: World) -> None:
    batch = world.order(6)
    world.do("request_clearance", c.RequestClearance, batch_id=batch, eccn="3A090.a", destination_country="KR",
             consignee_id=world.samsung, end_user_id=world.samsung, quantity=6, authorization_id=world.license)
    world.do("split_batch", c.SplitBatch, batch_id=batch, quantity=2)
    world.do("grant_clearance", c.GrantClearance, batch_id=batch, authorization_id=world.license)
    assert world.registry.get_batch(batch).cleared_quantity == 4


def test_a_saved_batch_is_cached_at_its_new_version_so_the_next_load_applies_nothing_again(
    world: World, registry: Registry
) -> None:
    batch = world.order(8)
    world.clear(batch, 8)
    shipped = world.ship(batch, quantity=8)

    cached = registry.repository.cache.get(batch)  # type: ignore[union-attr]
    assert cached.version == shipped.version
    assert cached.units_by_stage()[Stage.IN_TRANSIT] == 8
    assert registry.repository.get(batch).version == shipped.version
