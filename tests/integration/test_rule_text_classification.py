"""ECCN 3A090 / 4A090 as the rule text states it (docs: /work/shared/reference/export-controls.md,
"Classification"; 15 CFR 774 Supp. 1, 88 FR 73458), checked through the registry's public API:
GPU models registered with ``RegisterGpuModel``, classified with ``classify_model`` and cleared
with ``RequestClearance`` / ``GrantClearance``.

* TPP = 2 x MacTOPS x bit length = dense TOPS x bit length; the operation with the highest TPP counts.
* PD = TPP / die area.
* 3A090.a: TPP >= 4800, or TPP >= 1600 and PD >= 5.92.
* 3A090.b: 2400 <= TPP < 4800 and 1.6 <= PD < 5.92, or TPP >= 1600 and 3.2 <= PD < 5.92.
* Note 2: not designed or marketed for datacenters and TPP < 4800: not 3A090.
* 4A090.a / .b: systems containing ICs that meet 3A090.a / .b.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import pytest

from registry.application import commands as c
from registry.domain.errors import ComplianceRefusal
from tests.integration.compliance_world import World, make_world


@pytest.fixture
def world(sqlite_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(sqlite_url, t0)
    try:
        yield w
    finally:
        w.registry.close()


def _model(
    world: World,
    key: str,
    tops: dict[str, str],
    bits: dict[str, int],
    die_area: str,
    datacenter: bool = True,
    gpus: int = 1,
) -> UUID:
    cmd = c.parse(c.RegisterGpuModel, {
        "vendor": "NVIDIA", "name": key, "dense_tops": tops, "bit_lengths": bits,
        "die_area_mm2": die_area, "datacenter_marketed": datacenter, "tdp_watts": 700,
        "gpus_per_unit": gpus,
    })
    world.ids[key] = world.registry.register_gpu_model("admin", cmd).aggregate_id
    return world.ids[key]


def _fp8(world: World, key: str, tops: str, die_area: str, datacenter: bool = True, gpus: int = 1) -> str:
    """Classify a one-precision (FP8, 8 bits) model: its ECCN ("" when not under 3A090/4A090)."""
    _model(world, key, {"fp8": tops}, {"fp8": 8}, die_area, datacenter, gpus)
    return world.registry.classify_model(world[key]).eccn


# ------------------------------------------------------------------------------ TPP and PD
def test_tpp_is_dense_tops_times_bit_length_by_the_3a090_technical_note(world: World) -> None:
    _model(world, "h100", {"fp8": "1979"}, {"fp8": 8}, "814")
    got = world.registry.classify_model(world["h100"])
    assert got.tpp == Decimal(15832)  # 1,979 dense FP8 TFLOPS x 8 bits
    assert got.performance_density == Decimal("19.4496")  # 15832 / 814 mm^2, about 19.4
    assert got.eccn == "3A090.a"


@pytest.mark.parametrize(("precision", "tops", "bits"), [("int8", "600", 8), ("fp16", "300", 16)])
def test_bis_own_example_600_int8_tops_or_300_fp16_tflops_is_tpp_4800_and_3a090_a(
    world: World, precision: str, tops: str, bits: int
) -> None:
    _model(world, "m", {precision: tops}, {precision: bits}, "10000")  # PD 0.48: only .a.1 can apply
    got = world.registry.classify_model(world["m"])
    assert (got.tpp, got.eccn) == (Decimal(4800), "3A090.a")


def test_the_operation_with_the_highest_tpp_counts_not_the_first_or_the_fastest_by_3a090(world: World) -> None:
    # FP8 gives 100 x 8 = 800; FP16 gives 150 x 16 = 2400 (fewer operations, more TPP)
    _model(world, "m", {"fp8": "100", "fp16": "150"}, {"fp8": 8, "fp16": 16}, "1500")
    got = world.registry.classify_model(world["m"])
    assert (got.governing_precision, got.tpp, got.performance_density) == ("fp16", Decimal(2400), Decimal("1.6"))
    assert got.eccn == "3A090.b"  # 2400 <= TPP < 4800 and 1.6 <= PD < 5.92


def test_the_a100_at_624_dense_int8_tops_is_tpp_4992_and_3a090_a(world: World) -> None:
    _model(world, "a100", {"int8": "624", "fp16": "312"}, {"int8": 8, "fp16": 16}, "826")
    got = world.registry.classify_model(world["a100"])
    assert (got.tpp, got.eccn) == (Decimal(4992), "3A090.a")


# ------------------------------------------------------------------------- 3A090.a bounds
def test_tpp_of_exactly_4800_is_3a090a_by_3a090_a(world: World) -> None:
    assert _fp8(world, "m", "600", "10000") == "3A090.a"  # TPP 4800, PD 0.48


def test_tpp_just_below_4800_with_low_density_is_not_3a090_by_3a090_a(world: World) -> None:
    assert _fp8(world, "m", "599.99", "10000") == ""  # TPP 4799.92, PD 0.47999


def test_tpp_4800_with_a_b_range_density_is_a_not_b_by_3a090_a(world: World) -> None:
    assert _fp8(world, "m", "600", "1500") == "3A090.a"  # TPP 4800, PD 3.2: .a.1 wins


def test_tpp_of_exactly_1600_with_pd_of_exactly_5_92_is_3a090a_by_3a090_a(world: World) -> None:
    # 1600 / 5.92 mm^2 is not a finite decimal: TPP exactly 1600 just above PD 5.92, and PD exactly
    # 5.92 with TPP 1776 (also in 1600..4800, where only .a.2 can make it 3A090.a)
    assert _fp8(world, "m1", "200", "270") == "3A090.a"  # TPP 1600, PD 5.9259
    assert _fp8(world, "m2", "222", "300") == "3A090.a"  # TPP 1776, PD exactly 5.92


def test_pd_just_below_5_92_at_tpp_1600_or_more_is_3a090b_by_3a090_b(world: World) -> None:
    assert _fp8(world, "m", "222", "300.01") == "3A090.b"  # TPP 1776, PD 5.9198 (>= 3.2)


def test_tpp_just_below_1600_at_a_high_density_is_not_3a090_by_3a090_a(world: World) -> None:
    assert _fp8(world, "m", "199.99", "100") == ""  # TPP 1599.92, PD 16


# ------------------------------------------------------------------------- 3A090.b bounds
def test_tpp_2400_with_pd_of_exactly_1_6_is_3a090b_by_3a090_b_1(world: World) -> None:
    assert _fp8(world, "m", "300", "1500") == "3A090.b"  # TPP 2400, PD 1.6


def test_tpp_2400_with_pd_just_below_1_6_is_not_3a090_by_3a090_b_1(world: World) -> None:
    assert _fp8(world, "m", "300", "1500.01") == ""  # PD 1.59999, and < 3.2 for .b.2


def test_tpp_just_below_2400_with_pd_1_6_is_not_3a090_by_3a090_b_1(world: World) -> None:
    assert _fp8(world, "m", "299.99", "1499.95") == ""  # TPP 2399.92, PD 1.6


def test_tpp_just_below_4800_with_pd_1_6_is_3a090b_by_3a090_b_1(world: World) -> None:
    assert _fp8(world, "m", "599", "2995") == "3A090.b"  # TPP 4792, PD 1.6


def test_tpp_1600_with_pd_of_exactly_3_2_is_3a090b_by_3a090_b_2(world: World) -> None:
    assert _fp8(world, "m", "200", "500") == "3A090.b"  # TPP 1600, PD 3.2


def test_tpp_1600_with_pd_just_below_3_2_is_not_3a090_by_3a090_b_2(world: World) -> None:
    assert _fp8(world, "m", "200", "500.01") == ""  # PD 3.19994, and TPP < 2400 for .b.1


# --------------------------------------------------------------------------------- Note 2
def test_a_chip_not_for_datacenters_below_tpp_4800_is_not_3a090_by_note_2(world: World) -> None:
    _model(world, "gaming", {"fp8": "599"}, {"fp8": 8}, "300", datacenter=False)  # TPP 4792, PD 16
    got = world.registry.classify_model(world["gaming"])
    assert (got.eccn, got.status.value, got.controlled) == ("", "excluded_note_2", False)
    assert any("Note 2" in r for r in got.reasons)


def test_a_chip_not_for_datacenters_at_tpp_4800_is_still_3a090a_by_note_2(world: World) -> None:
    assert _fp8(world, "m", "600", "300", datacenter=False) == "3A090.a"


def test_note_2_does_not_apply_to_a_datacenter_chip_below_4800_by_note_2(world: World) -> None:
    assert _fp8(world, "m", "599", "300", datacenter=True) == "3A090.a"  # TPP 4792, PD 15.97


def test_a_note_2_chip_cannot_be_cleared_under_3a090_by_note_2(world: World) -> None:
    _model(world, "gaming", {"fp8": "599"}, {"fp8": 8}, "300", datacenter=False)
    world.authorization("lic")
    world.order("po1", 4, model="gaming")
    world.request("po1", "lic", eccn="3A090.a")
    with pytest.raises(ComplianceRefusal) as refused:
        world.grant("po1", "lic")
    assert refused.value.rule == "classification-mismatch"


# --------------------------------------------------------------------------------- 4A090
def test_a_server_of_3a090a_gpus_is_4a090a_by_4a090_a(world: World) -> None:
    assert _fp8(world, "hgx-b200", "4500", "1600", gpus=8) == "4A090.a"


def test_a_rack_of_3a090b_gpus_is_4a090b_by_4a090_b(world: World) -> None:
    assert _fp8(world, "rack", "300", "1500", gpus=72) == "4A090.b"


def test_a_server_of_gpus_outside_3a090_is_not_4a090_by_4a090(world: World) -> None:
    assert _fp8(world, "box", "100", "1500", gpus=8) == ""  # TPP 800 per GPU
    assert _fp8(world, "workstation", "599", "300", datacenter=False, gpus=4) == ""  # Note 2 ICs


def test_a_4a090a_server_is_cleared_under_4a090a_and_the_evidence_names_the_chip_figures(world: World) -> None:
    _model(world, "hgx", {"fp8": "4500"}, {"fp8": 8}, "1600", gpus=8)
    world.authorization("lic")
    world.order("po1", 2, model="hgx")
    world.request("po1", "lic", eccn="4A090.a")
    world.grant("po1", "lic")
    evidence = world.registry.history(world["po1"])[-1].evidence  # type: ignore[attr-defined]
    assert evidence["classification"]["eccn"] == "4A090.a"
    assert evidence["classification"]["tpp"] == "36000"
    assert Decimal(evidence["classification"]["performance_density"]) == Decimal("22.5")
    assert evidence["classification"]["inputs"]["datacenter_marketed"] is True
