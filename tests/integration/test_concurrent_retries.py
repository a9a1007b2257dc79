"""A request sent twice at once (a client's retry racing its first attempt) is applied once, and the
loser is answered as a replay, never ALREADY_EXISTS (found by the chaos suite's PostgreSQL outage)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from registry.application import commands as c
from registry.bootstrap import build_registry
from registry.config import Settings
from tests.builders import ACTOR, make_world


def _order(world: Any, request_id: str, batch_id: uuid.UUID) -> c.PlaceOrder:
    return c.parse(c.PlaceOrder, {
        "request_id": request_id, "batch_id": batch_id, "po_number": "PO-RACE", "supplier_id": world.nvidia,
        "buyer_id": world.samsung, "model_id": world.b200, "quantity": 8, "unit_price": "1.00", "currency": "USD"})


def test_the_same_new_order_sent_by_eight_threads_at_once_is_placed_once(store_url: str) -> None:
    registry = build_registry(Settings(database_url=store_url))
    try:
        world = make_world(registry)
        command = _order(world, "r-race-8", uuid.uuid4())
        head = registry.head()
        answers: list[Any] = []
        start = threading.Barrier(8)

        def send() -> None:
            start.wait()
            try:
                answers.append(registry.place_order(ACTOR, command))
            except Exception as e:  # collected: the assertion names it
                answers.append(e)

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert all(not isinstance(a, Exception) for a in answers), answers
        assert sum(1 for a in answers if not a.replayed) == 1
        assert len({a.aggregate_id for a in answers}) == 1
        assert registry.head() == head + 2  # one Ordered and its request record
    finally:
        registry.close()


def test_the_same_correction_sent_by_eight_threads_at_once_is_applied_once(store_url: str) -> None:
    registry = build_registry(Settings(database_url=store_url))
    try:
        world = make_world(registry)
        batch = registry.place_order(ACTOR, _order(world, "r-order-for-fix", uuid.uuid4())).aggregate_id
        fix = c.parse(c.CorrectOrder, {"request_id": "r-fix-8", "batch_id": batch, "po_number": "PO-FIXED",
                                       "reason": "typo"})
        head = registry.head()
        answers: list[Any] = []
        start = threading.Barrier(8)

        def send() -> None:
            start.wait()
            try:
                answers.append(registry.correct_order(ACTOR, fix))
            except Exception as e:  # collected: the assertion names it
                answers.append(e)

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert all(not isinstance(a, Exception) for a in answers), answers
        assert sum(1 for a in answers if not a.replayed) == 1
        assert registry.head() == head + 2  # one OrderCorrected and its request record
    finally:
        registry.close()
