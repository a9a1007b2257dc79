"""Property-based, through the application and a real store: invariants hold after every command,
and the batch replayed from the store (no cache, no snapshot) equals the one the commands built."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.errors import DomainError, RegistryError
from tests.builders import World, make_world

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["ship", "receive", "install", "assign", "transfer", "rma", "lost", "decommission", "split"]),
        st.integers(1, 6),
    ),
    max_size=14,
)


def run(world: World, batch: Any, serials: list[str], action: str, n: int, step: int) -> None:
    b = world.registry.get_batch(batch)
    def pick(*stages: str) -> list[str]:
        return [s for s, u in sorted(b.units.items()) if u.stage in stages][:n] or ["NOPE"]
    if action == "ship":
        world.ship(batch, f"S{step}", serials=pick("pending"))
    elif action == "receive" and b.shipments:
        shipment = sorted(b.shipments)[step % len(b.shipments)]
        world.do("receive", c.Receive, batch_id=batch, shipment_id=shipment, receiving_party_id=world.samsung,
                 site_id=world.site, serials=[s for s in pick("in_transit") if s in b.shipments[shipment].serials] or ["NOPE"])
    elif action == "install":
        world.do("install", c.Install, batch_id=batch, site_id=world.site, rack="R", host="H", serials=pick("received"))
    elif action == "assign":
        world.do("assign", c.Assign, batch_id=batch, assignee_id=world.naver, purpose="training", serials=pick("installed"))
    elif action == "transfer":
        world.do("transfer", c.Transfer, batch_id=batch, to_owner_id=world.naver, to_site_id=world.site2,
                 reason="resale", serials=pick("installed", "assigned", "received"))
    elif action == "rma":
        world.do("return_for_rma", c.ReturnForRma, batch_id=batch, rma_number=f"RMA{step}", serials=pick("installed"))
    elif action == "lost":
        world.do("report_lost", c.ReportLost, batch_id=batch, kind="lost", serials=pick("in_transit", "received"))
    elif action == "decommission":
        world.do("decommission", c.Decommission, batch_id=batch, serials=pick("rma", "assigned"))
    elif action == "split":
        world.do("split_batch", c.SplitBatch, batch_id=batch, serials=pick("pending"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_random_command_sequences_keep_invariants_and_replay_identically(actions: list[tuple[str, int]]) -> None:
    with TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'r.db'}"
        registry = build_registry(Settings(database_url=url, snapshot_interval=3))
        try:
            world = make_world(registry)
            batch = world.order(12)
            world.clear(batch, 10)
            serials = world.serials(batch, 12)
            accepted = 0
            for step, (action, n) in enumerate(actions):
                head = registry.head()
                try:
                    run(world, batch, serials, action, n, step)
                    accepted += 1
                except (DomainError, RegistryError):
                    assert registry.head() == head, "a refused command wrote something"
                b = registry.get_batch(batch)
                by_stage = b.units_by_stage()
                assert sum(by_stage.values()) == b.quantity
                assert b.totals.get("shipped", 0) <= 10
                assert all(sh.received <= sh.quantity for sh in b.shipments.values())
                counted = Counter(u.key for u in b.units.values())
                assert all(b.buckets.get(k, 0) >= v for k, v in counted.items())
            live = registry.get_batch(batch)
        finally:
            registry.close()
        fresh = Registry(env={**_env(url), "IS_SNAPSHOTTING_ENABLED": "n"})
        try:
            replayed = fresh.get_batch(batch)
        finally:
            fresh.close()
        strip = ("_pending_events", "_modified_on")
        assert {k: v for k, v in vars(replayed).items() if k not in strip} == {
            k: v for k, v in vars(live).items() if k not in strip
        }
        event(f"accepted {min(accepted, 5)}+" if accepted >= 5 else f"accepted {accepted}")


def _env(url: str) -> dict[str, str]:
    from registry.infrastructure.store import event_store_env

    return event_store_env(url)
