"""Pure pieces of the read models: compute figures, the batch's one-word stage, page tokens."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.common import STAGES, Pos, batch_stage, dense_pflops_per_gpu, plain, tpp_per_gpu
from projections.queries import decode_page_token, encode_page_token
from registry.domain.batch import Clearance, GpuBatch
from registry.domain.errors import InvalidField


def test_tpp_is_the_highest_dense_tops_times_bit_length_over_the_precisions() -> None:
    # BIS's own example: 4800 = 600 INT8 TOPS x 8 = 300 FP16 TFLOPS x 16.
    assert tpp_per_gpu({"int8": Decimal(600), "fp16": Decimal(300)}, {"int8": 8, "fp16": 16}) == 4800
    # H100 SXM: 1,979 dense FP8 TFLOPS -> TPP 15,832 (shared/reference/export-controls.md).
    assert tpp_per_gpu({"fp8": "1979", "fp64": "67"}, {"fp8": 8, "fp64": 64}) == 15832


def test_a_precision_without_a_bit_length_does_not_count_towards_tpp() -> None:
    assert tpp_per_gpu({"fp8": 10, "fp4": 1000}, {"fp8": 8}) == 80
    assert tpp_per_gpu({}, {}) == 0


def test_dense_pflops_is_the_highest_dense_throughput_in_peta_operations() -> None:
    assert dense_pflops_per_gpu({"fp8": "4500", "fp16": "2250"}) == Decimal("4.5")
    assert dense_pflops_per_gpu({}) == 0


def _aggregate_stage(units: dict[str, int], clearance: str) -> str:
    """GpuBatch.stage for a batch holding ``units`` per stage (one position per stage)."""
    batch = GpuBatch.__new__(GpuBatch)
    batch.buckets = {f"{stage}|||": n for stage, n in units.items() if n}
    batch.clearance_status = clearance
    return batch.stage


@given(
    units=st.fixed_dictionaries({s: st.integers(0, 3) for s in STAGES}),
    clearance=st.sampled_from([c.value for c in Clearance]),
)
def test_the_read_models_batch_stage_is_the_aggregates_stage(units: dict[str, int], clearance: str) -> None:
    assert batch_stage(units, clearance) == _aggregate_stage(units, clearance)


def test_a_position_key_splits_into_stage_site_owner_and_assignee() -> None:
    pos = Pos.parse("installed|aa||bb")
    assert (pos.stage, pos.site, pos.owner, pos.assignee) == ("installed", "aa", "", "bb")
    assert pos.is_unit_stage
    assert not Pos.parse("split|||").is_unit_stage


@given(st.one_of(st.integers(0, 2**62), st.text(min_size=1, max_size=64)))
def test_a_page_token_gives_back_what_it_was_made_from(value: int | str) -> None:
    assert decode_page_token(encode_page_token(value)) == str(value)


@pytest.mark.parametrize("token", ["garbage!", "djI6MTI", "djE6"])
def test_a_token_this_service_did_not_make_is_refused_naming_the_field(token: str) -> None:
    with pytest.raises(InvalidField) as refused:
        decode_page_token(token)
    assert refused.value.violations[0][0] == "page_token"


def test_event_values_are_made_json_safe() -> None:
    from datetime import UTC, datetime
    from uuid import UUID

    ident = UUID(int=1)
    assert plain({"a": [ident, Decimal("1.5"), datetime(2026, 1, 1, tzinfo=UTC)], "b": None}) == {
        "a": [str(ident), "1.5", "2026-01-01T00:00:00+00:00"],
        "b": None,
    }
