"""Property-based: random command sequences never break the quantity invariants, live or replayed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.domain.base import Context
from registry.domain.batch import GpuBatch, Position, Stage
from registry.domain.errors import DomainError

CTX = Context(actor="prop", request_id="", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
PARTY, SITES = uuid4(), [uuid4(), uuid4()]

STEP = st.one_of(
    st.tuples(st.just("request"), st.integers(1, 30)),
    st.tuples(st.just("grant"), st.integers(1, 30)),
    st.tuples(st.just("deny"), st.just(0)),
    st.tuples(st.just("revoke"), st.just(0)),
    st.tuples(st.just("ship"), st.integers(0, 12)),
    st.tuples(st.just("receive"), st.integers(0, 12)),
    st.tuples(st.just("install"), st.integers(0, 12)),
    st.tuples(st.just("assign"), st.integers(0, 12)),
    st.tuples(st.just("transfer"), st.integers(0, 12)),
    st.tuples(st.just("rma"), st.integers(0, 12)),
    st.tuples(st.just("lost"), st.integers(0, 12)),
    st.tuples(st.just("decommission"), st.integers(0, 12)),
    st.tuples(st.just("split"), st.integers(0, 12)),
)


def apply_step(b: GpuBatch, step: tuple[str, int], serialized: bool, n_shipments: list[int]) -> None:
    action, n = step

    def pick(stages: set[str]) -> tuple[int | None, list[str]]:
        if not serialized:
            return n, []
        chosen = [s for s, u in sorted(b.units.items()) if u.stage in stages][: max(n, 0)]
        return None, chosen if chosen else ["NO-SUCH-SERIAL"]

    site = SITES[n % 2]
    if action == "request":
        b.request_clearance(CTX, None, "3A090.a", "KR", PARTY, PARTY, min(n, b.quantity), "AI")
    elif action == "grant":
        b.grant_clearance(CTX, uuid4(), "NLR", "3A090.a", n)
    elif action == "deny":
        b.deny_clearance(CTX, "officer", "no")
    elif action == "revoke":
        b.revoke_clearance(CTX, "suspended")
    elif action == "ship":
        q, s = pick({Stage.PENDING})
        n_shipments[0] += 1
        b.ship(CTX, f"S{n_shipments[0]}", None, "US", "KR", None, "", q, s)
    elif action == "receive":
        if b.shipments:
            ship_id = sorted(b.shipments)[n % len(b.shipments)]
            q, s = pick({Stage.IN_TRANSIT})
            b.receive(CTX, ship_id, PARTY, site, q, [x for x in s if x in b.shipments[ship_id].serials] or s)
    elif action == "install":
        q, s = pick({Stage.RECEIVED})
        b.install(CTX, site, "R", "H", q, s)
    elif action == "assign":
        q, s = pick({Stage.INSTALLED})
        b.assign(CTX, PARTY, "training", q, s)
    elif action == "transfer":
        q, s = pick({Stage.RECEIVED, Stage.INSTALLED, Stage.ASSIGNED})
        b.transfer(CTX, uuid4(), site, "KR", "resale", q, s)
    elif action == "rma":
        q, s = pick({Stage.INSTALLED, Stage.ASSIGNED})
        b.return_for_rma(CTX, "RMA", "", q, s)
    elif action == "lost":
        q, s = pick({Stage.IN_TRANSIT})
        b.report_lost(CTX, "lost", "", q, s)
    elif action == "decommission":
        q, s = pick({Stage.RMA, Stage.INSTALLED})
        b.decommission(CTX, "shred", q, s)
    elif action == "split":
        q, s = pick({Stage.PENDING})
        b.split(CTX, uuid4(), q, s)


def check_invariants(b: GpuBatch) -> None:
    by_stage = b.units_by_stage()
    assert all(v >= 0 for v in b.buckets.values())
    assert sum(by_stage.values()) == b.quantity
    for shipment in b.shipments.values():
        assert 0 <= shipment.received <= shipment.quantity
    received = b.totals.get("received", 0)
    assert received <= b.totals.get("shipped", 0)
    assert b.totals.get("installed", 0) <= received
    # The per-serial view agrees with the buckets.
    if b.units:
        from collections import Counter

        counted = Counter(u.position.key for u in b.units.values())
        for key, n in counted.items():
            assert b.buckets.get(key, 0) >= n
        for key in b.buckets:
            Position.parse(key)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    quantity=st.integers(1, 25),
    serialized=st.booleans(),
    steps=st.lists(STEP, max_size=30),
)
def test_random_command_sequences_keep_every_quantity_invariant(
    quantity: int, serialized: bool, steps: list[tuple[str, int]]
) -> None:
    b = GpuBatch.order(CTX, uuid4(), "PO", PARTY, PARTY, PARTY, quantity, Decimal(1), "USD", "p")
    if serialized:
        b.register_serials(CTX, [f"S{i:03d}" for i in range(quantity)], [f"G{i}" for i in range(quantity)])
    counter = [0]
    for step in steps:
        before: dict[str, Any] = {k: v for k, v in vars(b).items() if k != "_pending_events"}
        try:
            apply_step(b, step, serialized, counter)
            if step[0] == "ship":
                assert b.totals["shipped"] <= b.cleared_quantity, "shipped beyond the clearance"
        except DomainError:
            after = {k: v for k, v in vars(b).items() if k != "_pending_events"}
            assert after == before, "a refused command must not change the aggregate"
        check_invariants(b)

    events = b.collect_events()
    rebuilt: Any = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert {k: v for k, v in vars(rebuilt).items() if k != "_pending_events"} == {
        k: v for k, v in vars(b).items() if k != "_pending_events"
    }
    check_invariants(rebuilt)
