"""A repair (CBV ``repairing``): units back from an RMA received at a site, or repaired where
they are; the rules in the public method, the event carrying what replay needs."""

from __future__ import annotations

import pytest

from registry.domain.batch import GpuBatch, Position, Stage
from registry.domain.errors import IllegalTransition, InvalidField, InvariantViolation
from tests.unit.test_batch_lifecycle import CTX, SITE_A, SITE_B, at_site, cleared, replayed


def test_units_back_from_an_rma_are_received_at_the_site_named_and_replay_alike() -> None:
    b, serials = at_site(4)
    b.return_for_rma(CTX, "RMA-1", "ECC errors", None, serials[:2])

    b.repair(CTX, "from_rma", "RMA-1", SITE_B, "board replaced", None, serials[:2])

    for s in serials[:2]:
        unit = b.units[s]
        assert (unit.stage, unit.site, unit.rack, unit.host) == (Stage.RECEIVED, SITE_B.hex, "", "")
    assert b.units[serials[2]].stage == Stage.INSTALLED
    assert b.totals["repaired"] == 2
    [event] = [e for e in b.collect_events() if isinstance(e, GpuBatch.Repaired)]
    assert (event.kind, event.rma_number, event.site_id, event.note) == ("from_rma", "RMA-1", SITE_B, "board replaced")


def test_replay_of_a_repair_gives_the_same_batch() -> None:
    b, serials = at_site(3)
    b.return_for_rma(CTX, "RMA-1", "", None, serials[:1])
    b.repair(CTX, "from_rma", "RMA-1", SITE_B, "", None, serials[:1])
    b.repair(CTX, "on_site", "", None, "fan replaced", None, serials[1:])
    units, buckets, totals = dict(b.units), dict(b.buckets), dict(b.totals)

    rebuilt = replayed(b)

    assert (dict(rebuilt.units), dict(rebuilt.buckets), dict(rebuilt.totals)) == (units, buckets, totals)


def test_an_on_site_repair_keeps_the_units_in_place_and_names_their_site() -> None:
    b, serials = at_site(2)
    before = dict(b.buckets)

    b.repair(CTX, "on_site", "", None, "thermal paste", None, serials)

    assert dict(b.buckets) == before
    [event] = [e for e in b.collect_events() if isinstance(e, GpuBatch.Repaired)]
    assert event.site_id == SITE_A and event.kind == "on_site" and event.quantity == 2
    assert all(m.source == m.target for m in event.moves)


def test_a_quantity_only_batch_repairs_counted_units() -> None:
    b = cleared(5)
    b.ship(CTX, "S1", None, "US", "KR", SITE_A, "ITN1", 5, [])
    b.receive(CTX, "S1", b.buyer_id, SITE_A, 5, [])
    b.return_for_rma(CTX, "RMA-9", "", 2, [])

    b.repair(CTX, "from_rma", "RMA-9", SITE_A, "", 2, [])

    assert b.buckets == {Position(Stage.RECEIVED, SITE_A.hex, b.buyer_id.hex).key: 5}


def test_refusals() -> None:
    b, serials = at_site(2)
    with pytest.raises(InvalidField, match="kind"):
        b.repair(CTX, "recalled", "", None, "", None, serials)
    with pytest.raises(InvalidField, match="site_id"):
        b.return_for_rma(CTX, "RMA-1", "", None, serials[:1])
        b.repair(CTX, "from_rma", "RMA-1", None, "", None, serials[:1])
    with pytest.raises(IllegalTransition):  # not under an RMA: nothing comes back
        b.repair(CTX, "from_rma", "RMA-1", SITE_A, "", None, serials[1:])
    with pytest.raises(IllegalTransition):  # under an RMA: not at a site to be repaired there
        b.repair(CTX, "on_site", "", None, "", None, serials[:1])
    with pytest.raises(IllegalTransition):  # at another site than the one named
        b.repair(CTX, "on_site", "", SITE_B, "", None, serials[1:])
    pending = cleared(2)
    with pytest.raises(InvariantViolation, match="repair-quantity"):  # nothing at a site yet
        pending.repair(CTX, "on_site", "", None, "", 1, [])
    assert "repair" in b.allowed_actions()
