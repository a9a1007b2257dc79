"""Serial runs (projections/serial_runs.py): a batch's serials as runs of equal state, split only where
the moved serials diverge, merged where neighbours agree, and equal to a per-serial model."""

from __future__ import annotations

import itertools
import random
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, String, Uuid

from projections.row_cache import RowCache
from projections.serial_runs import (
    RunIndex,
    SerialRuns,
    define_runs,
    expand,
    key_of,
    spans_of,
    sweep,
)
from registry.domain.serials import SerialSet

BATCH = UUID(int=1)
OTHER = UUID(int=2)
POSITION = ("stage", "site")


def _runs() -> SerialRuns:
    table = define_runs(MetaData(), "runs", Column("batch_id", Uuid), [
        Column("stage", String(16)), Column("site", String(8)), Column("shipment_id", String(8)),
    ])
    return SerialRuns(RowCache(None, table, "batch_id", memory=True), ("stage", "site", "shipment_id"))


def _rows(runs: SerialRuns, batch_id: UUID = BATCH) -> list[tuple[Any, ...]]:
    rows = sorted(runs.cache.members(batch_id), key=lambda r: (r["prefix"], r["width"], r["first"]))
    return [(r["prefix"], r["width"], r["first"], r["last"], r["stage"], r["site"], r["shipment_id"]) for r in rows]


def _serials(a: int, b: int, prefix: str = "KR-") -> list[str]:
    return [f"{prefix}{n:06d}" for n in range(a, b + 1)]


PENDING = {"stage": "pending", "site": "", "shipment_id": ""}
SHIP = {("pending", ""): {"stage": "in_transit", "site": "", "shipment_id": "S1"}}


def test_a_registered_delivery_is_one_run() -> None:
    runs = _runs()
    runs.register(BATCH, _serials(1, 5000), PENDING)
    assert _rows(runs) == [("KR-", 6, 1, 5000, "pending", "", "")]


def test_moving_the_middle_of_a_run_splits_it_in_three_and_moving_the_rest_merges_it_again() -> None:
    runs = _runs()
    runs.register(BATCH, _serials(1, 100), PENDING)
    runs.move(BATCH, SerialSet(_serials(40, 59)), POSITION, SHIP)
    assert _rows(runs) == [
        ("KR-", 6, 1, 39, "pending", "", ""),
        ("KR-", 6, 40, 59, "in_transit", "", "S1"),
        ("KR-", 6, 60, 100, "pending", "", ""),
    ]
    runs.move(BATCH, SerialSet(_serials(1, 39) + _serials(60, 100)), POSITION, SHIP)
    assert _rows(runs) == [("KR-", 6, 1, 100, "in_transit", "", "S1")]


def test_a_serial_set_with_exceptions_leaves_the_exceptions_where_they_are() -> None:
    runs = _runs()
    runs.register(BATCH, _serials(1, 10), PENDING)
    moved = SerialSet([s for s in _serials(1, 10) if s not in ("KR-000004", "KR-000007")])
    assert moved.runs == 1  # one run with two exceptions
    runs.move(BATCH, moved, POSITION, SHIP)
    assert _rows(runs) == [
        ("KR-", 6, 1, 3, "in_transit", "", "S1"),
        ("KR-", 6, 4, 4, "pending", "", ""),
        ("KR-", 6, 5, 6, "in_transit", "", "S1"),
        ("KR-", 6, 7, 7, "pending", "", ""),
        ("KR-", 6, 8, 10, "in_transit", "", "S1"),
    ]


def test_serials_that_are_not_consecutive_are_runs_of_one_and_other_prefixes_widths_and_names_are_apart() -> None:
    runs = _runs()
    serials = ["KR-000001", "KR-000003", "KR-00002", "US-000002", "NODIGITS", "X" + "9" * 25]
    runs.register(BATCH, serials, PENDING)
    assert _rows(runs) == [
        ("KR-", 5, 2, 2, "pending", "", ""),
        ("KR-", 6, 1, 1, "pending", "", ""),
        ("KR-", 6, 3, 3, "pending", "", ""),
        ("NODIGITS", 0, 0, 0, "pending", "", ""),
        ("US-", 6, 2, 2, "pending", "", ""),
        ("X" + "9" * 25, 0, 0, 0, "pending", "", ""),
    ]
    assert [r["serial"] for r in expand(runs.cache.members(BATCH))] == sorted(serials)


def test_a_move_whose_start_does_not_match_leaves_the_serials_as_they_are() -> None:
    runs = _runs()
    runs.register(BATCH, _serials(1, 10), PENDING)
    runs.move(BATCH, _serials(3, 5), POSITION, {("received", "s"): {"stage": "installed", "site": "s"}})
    assert _rows(runs) == [("KR-", 6, 1, 10, "pending", "", "")]


def test_serials_of_another_batch_or_never_registered_are_not_moved_nor_counted() -> None:
    runs = _runs()
    runs.register(BATCH, _serials(1, 10), PENDING)
    runs.register(OTHER, _serials(11, 20), PENDING)
    runs.move(BATCH, _serials(8, 30), POSITION, SHIP)
    assert _rows(runs) == [("KR-", 6, 1, 7, "pending", "", ""), ("KR-", 6, 8, 10, "in_transit", "", "S1")]
    assert _rows(runs, OTHER) == [("KR-", 6, 11, 20, "pending", "", "")]
    assert runs.tally(BATCH, _serials(5, 30), ("stage", "shipment_id")) == {
        ("pending", ""): 3, ("in_transit", "S1"): 3,
    }


def test_a_split_takes_serials_out_of_the_parent_and_into_the_child() -> None:
    runs = _runs()
    runs.register(BATCH, _serials(1, 10), PENDING)
    runs.remove(BATCH, _serials(4, 6))
    runs.register(OTHER, _serials(4, 6), PENDING)
    assert _rows(runs) == [("KR-", 6, 1, 3, "pending", "", ""), ("KR-", 6, 7, 10, "pending", "", "")]
    assert _rows(runs, OTHER) == [("KR-", 6, 4, 6, "pending", "", "")]
    assert runs.serials(BATCH, lambda r: r["first"] > 3) == _serials(7, 10)


def test_a_run_index_finds_the_run_holding_a_serial() -> None:
    runs = _runs()
    runs.register(BATCH, [*_serials(1, 10), "ODD"], PENDING)
    runs.move(BATCH, _serials(5, 6), POSITION, SHIP)
    index = RunIndex(runs.cache.members(BATCH))
    found = index.holding("KR-000006")
    assert found is not None and (found["first"], found["stage"]) == (5, "in_transit")
    assert index.holding("KR-000011") is None
    assert index.holding("KR-00006") is None
    held = index.holding("ODD")
    assert held is not None and held["stage"] == "pending"


def test_spans_merge_what_the_set_names_and_keys_split_as_serial_sets_do() -> None:
    assert key_of("KR-H100-000042") == ("KR-H100-", 6, 42)
    assert spans_of(["A1", "A2", "A3", "A5", "A4", "A9"]) == {("A", 1): [(1, 5), (9, 9)]}
    assert sweep([(1, 3)], [("a",)], [(2, 5)], lambda _old: ("b",)) == [(1, 1, ("a",)), (2, 5, ("b",))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.builds(lambda p, n, w: f"{p}{n:0{w}d}", st.sampled_from(["A", "B-", ""]), st.integers(0, 30), st.integers(1, 3)),
    st.sampled_from(["ODD", "X" + "7" * 20, "X" + "7" * 19 + "8"]),
)))
def test_a_plain_list_and_its_serial_set_give_the_same_spans(serials: list[str]) -> None:
    assert spans_of(serials) == spans_of(SerialSet(serials))
    expected: dict[tuple[str, int], set[int]] = {}
    for s in serials:
        prefix, width, n = key_of(s)
        expected.setdefault((prefix, width), set()).add(n)
    got = {k: {n for a, b in spans for n in range(a, b + 1)} for k, spans in spans_of(serials).items()}
    assert got == expected


# ---------------------------------------------------------------------- against a model
STATES = [{"stage": s, "site": t, "shipment_id": ""} for s in ("pending", "in_transit", "received") for t in ("", "x")]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 40))
def test_runs_hold_what_a_per_serial_model_holds_after_any_sequence_of_changes(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    runs = _runs()
    model: dict[str, tuple[UUID, dict[str, Any]]] = {}
    universe = _serials(1, 60) + _serials(1, 8, "B-") + [f"B-{n:03d}" for n in range(1, 5)] + ["ODD", "EVEN"]
    for _ in range(steps):
        batch = rng.choice([BATCH, OTHER])
        chosen = [s for s in universe if rng.random() < rng.choice([0.1, 0.5, 0.9])]
        rng.shuffle(chosen) if rng.random() < 0.3 else chosen.sort()
        kind = rng.randrange(4)
        if kind == 0:
            state = rng.choice(STATES)
            for s in chosen:  # a serial is registered to one batch: it leaves any other
                if s in model and model[s][0] != batch:
                    runs.remove(model[s][0], [s])
            runs.register(batch, chosen, state)
            model.update({s: (batch, dict(state)) for s in chosen})
        elif kind == 1:
            runs.remove(batch, chosen)
            model = {s: v for s, v in model.items() if not (s in chosen and v[0] == batch)}
        else:
            start, end = rng.sample(STATES, 2)
            moves = {(start["stage"], start["site"]): {**end, "shipment_id": f"S{rng.randrange(3)}"}}
            expected = dict(model)
            counts: dict[tuple[Any, ...], int] = {}
            for s in set(chosen):
                if s in model and model[s][0] == batch:
                    state = model[s][1]
                    key = (state["stage"], state["shipment_id"])
                    counts[key] = counts.get(key, 0) + 1
                    to = moves.get((state["stage"], state["site"]))
                    if to is not None:
                        expected[s] = (batch, {**state, **to})
            assert runs.tally(batch, SerialSet(chosen), ("stage", "shipment_id")) == counts
            runs.move(batch, SerialSet(chosen), POSITION, moves)
            model = expected
        for b in (BATCH, OTHER):
            got = [(r["serial"], r["stage"], r["site"], r["shipment_id"]) for r in expand(runs.cache.members(b))]
            want = sorted((s, v["stage"], v["site"], v["shipment_id"]) for s, (bb, v) in model.items() if bb == b)
            assert got == want
            rows = _rows(runs, b)
            for x, y in itertools.pairwise(rows):  # canonical: no two neighbours of equal state
                assert not (x[:2] == y[:2] and x[3] + 1 == y[2] and x[4:] == y[4:]), (x, y)


def _spans_one_by_one(serials: list[str]) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """The spans of a plain list by splitting every serial (what ``spans_of`` did for every list)."""
    found: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for serial in serials:
        prefix, width, n = key_of(serial)
        found.setdefault((prefix, width), []).append((n, n))
    merged: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for key, spans in found.items():
        out: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            if out and a <= out[-1][1] + 1:
                out[-1] = (out[-1][0], max(b, out[-1][1]))
            else:
                out.append((a, b))
        merged[key] = out
    return merged


@pytest.mark.parametrize("serials", [
    [f"SN{i:06d}" for i in range(5, 700)],  # one run: the fast path
    [f"{i:04d}" for i in range(3, 60)],  # digits only
    [f"X{i:020d}" for i in range(3, 10)],  # wider than a number column: one key per serial
    [f"SN{i:03d}" for i in range(995, 1000)] + ["SN1000"],  # widths differ
    [f"SN{i:06d}" for i in [1, 2, 3, 5, 6]],  # a gap
    [f"SN{i:06d}" for i in [3, 2, 1]],  # descending
    ["A1", "A2"],  # too short for a run
    [f"R9-{i}" for i in range(7, 12)],  # 7..11: the width changes
])
def test_spans_of_a_list_are_those_of_its_serials_one_by_one(serials: list[str]) -> None:
    assert spans_of(serials) == _spans_one_by_one(serials)
    assert spans_of(tuple(serials)) == _spans_one_by_one(serials)
