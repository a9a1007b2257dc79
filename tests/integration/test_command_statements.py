"""The statements a command sends to the store, counted and pinned, on SQLite and PostgreSQL.

On PostgreSQL every statement is a network round trip plus backend CPU, so the command path's
statement count is part of its cost. The bench workload's batch life (``bench/workload.py``) runs
in process after one warm-up life per program (every reference aggregate it names is cached), and
``bench.statements`` counts what each command sends besides its append (the append is one unit:
events, claims, journal and commit, the group commit's business). A change that adds a statement
or a round trip to a common command fails here; one that removes one updates the pin.

Today each of them sends ONE statement before its append: the log head and its request record
together (``log_head.head_and_event``). The reference checks (parties, sites, the model, the
authorization) are answered from the cache that read synced, and whether a new batch's id is taken
is the store's unique key's answer.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bench.statements import StatementCounter, count_batch_lives, per_command
from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.demo.server_process import planned_settings
from registry.domain.errors import AlreadyExists, NotFound
from tests.builders import ACTOR, World, make_world

COMMON = ("place_order", "request_clearance", "grant_clearance", "register_serials", "ship", "receive",
          "install", "assign")
# (statements, round trips) besides the append, per command; on SQLite round trips count calls.
PINNED = {command: {"statements": 1, "round_trips": 1, "appends": 1} for command in COMMON}


def test_each_common_command_sends_one_statement_besides_its_append(store_url: str) -> None:
    found = per_command(count_batch_lives(store_url, batches=2))
    counted = {m: {k: v for k, v in counts.items() if k != "append_statements"} for m, counts in found.items()}
    assert counted == PINNED


@pytest.fixture
def world(store_url: str) -> Any:
    app = build_registry(planned_settings(store_url))
    yield make_world(app)
    app.close()


def _order(world: World, **changes: Any) -> dict[str, Any]:
    return {"po_number": "PO-1", "supplier_id": world.nvidia, "buyer_id": world.samsung,
            "model_id": world.b200, "quantity": 4, "unit_price": "10", "currency": "USD", **changes}


def test_a_reference_that_does_not_exist_is_refused_naming_its_field_and_nothing_is_written(
    world: World,
) -> None:
    app: Registry = world.registry
    head = app.head()
    missing = uuid.uuid4()
    for field, kind in (("supplier_id", "party"), ("buyer_id", "party"), ("model_id", "gpu_model")):
        with pytest.raises(NotFound) as refused:
            app.place_order(ACTOR, c.parse(c.PlaceOrder, _order(world, **{field: missing}, request_id=field)))
        assert refused.value.kind == kind
        assert f"{missing} (field {field})" in str(refused.value)
    assert app.head() == head
    batch = world.order(4)
    world.clear(batch, 4)
    head = app.head()
    with pytest.raises(NotFound, match="field carrier_id"):
        app.ship(ACTOR, c.parse(c.Ship, {"batch_id": batch, "shipment_id": "S-1", "destination_country": "KR",
                                         "quantity": 1, "carrier_id": missing}))
    with pytest.raises(NotFound, match="field destination_site_id"):
        app.ship(ACTOR, c.parse(c.Ship, {"batch_id": batch, "shipment_id": "S-1", "destination_country": "KR",
                                         "quantity": 1, "destination_site_id": world.samsung}))  # a party
    assert app.head() == head


def test_creating_an_id_another_registry_made_is_refused_by_the_store_and_nothing_is_written(
    world: World, store_url: str
) -> None:
    app: Registry = world.registry
    other = build_registry(planned_settings(store_url))
    try:
        theirs = other.place_order(ACTOR, c.parse(c.PlaceOrder, _order(world)))
    finally:
        other.close()
    head = app.head()
    with pytest.raises(AlreadyExists):  # not in this registry's cache: the append is refused
        app.place_order(ACTOR, c.parse(c.PlaceOrder, _order(world, batch_id=theirs.aggregate_id, request_id="r")))
    assert app.head() == head
    app.get("batch", theirs.aggregate_id)  # now cached: refused before any write is tried
    with pytest.raises(AlreadyExists):
        app.place_order(ACTOR, c.parse(c.PlaceOrder, _order(world, batch_id=theirs.aggregate_id)))
    assert app.head() == head


def test_reference_data_naming_a_missing_party_is_refused_naming_the_field_and_nothing_is_written(
    world: World,
) -> None:
    from registry.application import compliance_commands as cc

    app: Registry = world.registry
    head = app.head()
    missing = uuid.uuid4()
    refusals = {
        "ultimate_parent_id": lambda: app.register_party(ACTOR, c.parse(c.RegisterParty, {
            "name": "Sub Co", "country": "KR", "roles": ["buyer"], "headquarters_country": "KR",
            "ultimate_parent_id": missing})),
        "operator_id": lambda: app.register_site(ACTOR, c.parse(c.RegisterSite, {
            "name": "Site X", "operator_id": missing, "country": "KR", "power_capacity_kw": "100"})),
        "end_user_ids[1]": lambda: app.register_authorization(ACTOR, c.parse(c.RegisterAuthorization, {
            "auth_type": "license", "number": "L-1", "eccns": ["3A090.a"], "destination_countries": ["KR"],
            "end_user_ids": [world.samsung, missing], "valid_from": "2026-01-01T00:00:00+00:00"})),
        "party_id": lambda: app.screen_party(ACTOR, c.parse(cc.ScreenParty, {"party_id": missing})),
    }
    for field, command in refusals.items():
        with pytest.raises(NotFound) as refused:
            command()
        assert refused.value.kind == "party"
        assert f"{missing} (field {field})" in str(refused.value), field
    assert app.head() == head


def test_corrections_of_orders_and_reference_data_send_one_statement_besides_their_append_too(
    store_url: str,
) -> None:
    counter = StatementCounter()
    with counter.installed():
        app = build_registry(planned_settings(store_url))
        try:
            counter.watch(app)
            world = make_world(app)
            batch = world.order(8)

            def correct(n: int) -> None:
                world.do("correct_order", c.CorrectOrder, batch_id=batch, po_number=f"PO-{n}", reason="typo",
                         request_id=f"correct-{n}")

            def amend(n: int) -> None:
                world.do("amend_reference", c.AmendReference, kind="site", target_id=world.site,
                         fields={"address": f"Street {n}"}, reason="moved", request_id=f"amend-{n}")

            counted: dict[str, tuple[int, int]] = {}
            for name, command in (("correct_order", correct), ("amend_reference", amend)):
                command(1)  # warm-up: what it reads is cached now
                with counter.command() as tally:
                    command(2)
                # (round trips not compared: after so short a warm-up the read may be the first on
                # its pooled PostgreSQL connection, which prepares it: one round trip more, once)
                counted[name] = (tally.statements, tally.appends)
        finally:
            app.close()
    assert counted == {"correct_order": (1, 1), "amend_reference": (1, 1)}
