"""ECCN 3A090 / 4A090 classification, table-driven from the rule text (88 FR 73458).

3A090.a: TPP >= 4800, or TPP >= 1600 and PD >= 5.92.
3A090.b: 2400 <= TPP < 4800 and 1.6 <= PD < 5.92, or TPP >= 1600 and 3.2 <= PD < 5.92.
Note 2: 3A090 does not apply to ICs not designed or marketed for datacenters with TPP < 4800.
4A090.a/.b: computers and assemblies containing ICs meeting 3A090.a/.b.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from registry.domain.classification import (
    DEFAULT_RULESETS,
    NOV_2023,
    ControlStatus,
    ModelSpec,
    RulesetRegistry,
    classification_changes,
    classify,
    decide,
)
from registry.domain.errors import ComplianceRefusal

D = Decimal
A = "3A090.a"
B = "3A090.b"
NOT = ""

# (TPP, PD, datacenter marketed, expected ECCN, expected status, why)
THRESHOLDS = [
    # 3A090.a.1: TPP >= 4800 whatever the density
    ("4800", "0.5", True, A, "controlled", "a.1 at the TPP boundary"),
    ("4799.99", "0.5", True, NOT, "not_controlled", "just below a.1 with low density"),
    ("4800", "1.6", True, A, "controlled", "a.1 wins over b.1's density band"),
    ("36000", "44.2", True, A, "controlled", "a B200-class GPU"),
    # 3A090.a.2: TPP >= 1600 and PD >= 5.92
    ("1600", "5.92", True, A, "controlled", "a.2 at both boundaries"),
    ("1599.99", "5.92", True, NOT, "not_controlled", "TPP just below a.2 and b.2"),
    ("1600", "5.9199", True, B, "controlled", "density just below a.2 falls to b.2"),
    ("1600", "100", True, A, "controlled", "a.2 with a very dense die"),
    ("4799.99", "5.92", True, A, "controlled", "a.2 just below the a.1 TPP"),
    # 3A090.b.1: 2400 <= TPP < 4800 and 1.6 <= PD < 5.92
    ("2400", "1.6", True, B, "controlled", "b.1 at both lower boundaries"),
    ("2399.99", "1.6", True, NOT, "not_controlled", "TPP just below b.1, density below b.2"),
    ("2400", "1.5999", True, NOT, "not_controlled", "density just below b.1"),
    ("4799.99", "5.9199", True, B, "controlled", "b.1 at both upper boundaries"),
    ("4799.99", "1.6", True, B, "controlled", "b.1 at the top of its TPP band"),
    # 3A090.b.2: TPP >= 1600 and 3.2 <= PD < 5.92
    ("1600", "3.2", True, B, "controlled", "b.2 at both lower boundaries"),
    ("1600", "3.1999", True, NOT, "not_controlled", "density just below b.2"),
    ("2000", "3.2", True, B, "controlled", "b.2 below b.1's TPP band"),
    ("2000", "3.1999", True, NOT, "not_controlled", "neither b.1 (TPP) nor b.2 (density)"),
    ("2400", "3.1999", True, B, "controlled", "b.1 covers what b.2 misses"),
    # Note 2: not designed or marketed for datacenters and TPP < 4800
    ("4799.99", "10", False, NOT, "excluded_note_2", "a.2 parameters, but Note 2"),
    ("2400", "1.6", False, NOT, "excluded_note_2", "b.1 parameters, but Note 2"),
    ("1600", "3.2", False, NOT, "excluded_note_2", "b.2 parameters, but Note 2"),
    ("4800", "10", False, A, "controlled", "Note 2 stops below TPP 4800 (a gaming GPU at 4800 is 3A090.a)"),
    ("1000", "1", False, NOT, "not_controlled", "below every threshold: Note 2 is not needed"),
]


@pytest.mark.parametrize(
    ("tpp", "pd", "datacenter", "eccn", "status", "why"), THRESHOLDS, ids=[row[-1] for row in THRESHOLDS]
)
def test_each_3a090_boundary_classifies_as_the_rule_text_says(
    tpp: str, pd: str, datacenter: bool, eccn: str, status: str, why: str
) -> None:
    verdict = decide(D(tpp), D(pd), datacenter, 1, NOV_2023)
    assert (verdict.eccn, verdict.status.value) == (eccn, status), why


SYSTEMS = [
    ("4800", "1", True, 8, "4A090.a"),
    ("15832", "19.4", True, 72, "4A090.a"),
    ("2400", "1.6", True, 8, "4A090.b"),
    ("2400", "1.6", False, 8, ""),  # the IC is excluded by Note 2, so the server is not 4A090
    ("1000", "1", True, 8, ""),
    ("4800", "1", True, 1, "3A090.a"),  # one GPU per unit is the chip itself
]


@pytest.mark.parametrize(("tpp", "pd", "datacenter", "gpus", "eccn"), SYSTEMS)
def test_a_unit_holding_several_controlled_gpus_is_4a090_with_the_chips_paragraph(
    tpp: str, pd: str, datacenter: bool, gpus: int, eccn: str
) -> None:
    assert decide(D(tpp), D(pd), datacenter, gpus, NOV_2023).eccn == eccn


def test_the_verdict_lists_every_paragraph_whose_test_is_met() -> None:
    assert decide(D(4000), D("4"), True, 1, NOV_2023).paragraphs == ("3A090.b.1", "3A090.b.2")
    assert decide(D(4800), D("6"), True, 1, NOV_2023).paragraphs == ("3A090.a.1", "3A090.a.2")


def _spec(**kw: object) -> ModelSpec:
    base = ModelSpec(
        name="H100 SXM",
        dense_tops={"fp8": D(1979), "fp16": D("989.5"), "int8": D(1979), "fp64": D(67)},
        bit_lengths={"fp8": 8, "fp16": 16, "int8": 8, "fp64": 64},
        die_area_mm2=D(814),
        datacenter_marketed=True,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_tpp_is_dense_tops_times_bit_length_and_the_highest_precision_counts() -> None:
    c = classify(_spec(), NOV_2023)
    assert c.tpp == D(15832)
    assert c.tpp_by_precision["fp64"] == D(67 * 64)
    assert c.performance_density == D("19.4496")
    assert (c.eccn, c.status) == ("3A090.a", ControlStatus.CONTROLLED)


@pytest.mark.parametrize(
    ("precision", "tops", "bits"),
    [("int8", "600", 8), ("fp16", "300", 16)],
    ids=["600 INT8 TOPS", "300 FP16 TFLOPS"],
)
def test_bis_own_example_gives_tpp_4800(precision: str, tops: str, bits: int) -> None:
    spec = ModelSpec("example", {precision: D(tops)}, {precision: bits}, D(0), True)
    c = classify(spec, NOV_2023)
    assert c.tpp == D(4800)
    assert c.eccn == "3A090.a"


def test_an_a100_at_624_int8_tops_has_tpp_4992_and_is_3a090_a() -> None:
    spec = ModelSpec("A100", {"int8": D(624)}, {"int8": 8}, D(826), True)
    c = classify(spec, NOV_2023)
    assert (c.tpp, c.eccn) == (D(4992), "3A090.a")


def test_an_unknown_die_area_takes_the_density_tests_as_met() -> None:
    spec = ModelSpec("mystery", {"fp8": D(250)}, {"fp8": 8}, D(0), True)  # TPP 2000
    c = classify(spec, NOV_2023)
    assert c.performance_density is None
    assert c.eccn == "3A090.a"
    assert any("die area unknown" in r for r in c.reasons)


def test_density_is_compared_exactly_not_after_rounding() -> None:
    # 1600 / 270.2703 = 5.9199993... which rounds to 5.9200 but is below the 5.92 threshold.
    spec = ModelSpec("edge", {"fp8": D(200)}, {"fp8": 8}, D("270.2703"), True)
    c = classify(spec, NOV_2023)
    assert c.performance_density == D("5.9200")
    assert c.eccn == "3A090.b"


def test_a_classification_records_inputs_ruleset_figures_and_reasons_as_plain_json() -> None:
    evidence = classify(_spec(gpus_per_unit=8), NOV_2023).to_evidence()
    assert json.loads(json.dumps(evidence)) == evidence
    assert evidence["ruleset_id"] == NOV_2023.ruleset_id
    assert evidence["inputs"]["die_area_mm2"] == "814"
    assert evidence["inputs"]["gpus_per_unit"] == 8
    assert evidence["tpp"] == "15832"
    assert evidence["eccn"] == "4A090.a"
    assert "3A090.a.1" in evidence["paragraphs"]
    assert any("TPP 15832" in r for r in evidence["reasons"])


def test_the_ruleset_in_force_is_the_latest_that_has_started() -> None:
    stricter = replace(
        NOV_2023,
        ruleset_id="hypothetical-2027",
        effective_from=datetime(2027, 1, 1, tzinfo=UTC),
        tpp_a=D(4000),
    )
    rules = DEFAULT_RULESETS.with_ruleset(stricter)
    assert rules.in_force(datetime(2026, 12, 31, tzinfo=UTC)).ruleset_id == NOV_2023.ruleset_id
    assert rules.in_force(datetime(2027, 1, 1, tzinfo=UTC)).ruleset_id == "hypothetical-2027"
    assert DEFAULT_RULESETS.in_force(datetime(2027, 1, 1, tzinfo=UTC)) is NOV_2023  # unchanged


def test_no_ruleset_before_the_first_one_took_effect_is_a_refusal_naming_the_rule() -> None:
    with pytest.raises(ComplianceRefusal) as e:
        DEFAULT_RULESETS.in_force(datetime(2023, 11, 16, tzinfo=UTC))
    assert e.value.rule == "classification-ruleset"


def test_ruleset_ids_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        RulesetRegistry([NOV_2023, replace(NOV_2023, effective_from=datetime(2030, 1, 1, tzinfo=UTC))])


def test_rule_change_impact_lists_only_the_models_whose_eccn_or_status_changes() -> None:
    lowered = replace(NOV_2023, ruleset_id="lowered", tpp_a=D(4000))
    specs = {
        "h100": _spec(),  # 3A090.a either way
        "mid": ModelSpec("mid", {"fp8": D(500)}, {"fp8": 8}, D(4000), True),  # TPP 4000, PD 1: not -> a
        "small": ModelSpec("small", {"fp8": D(100)}, {"fp8": 8}, D(800), True),  # not controlled either way
    }
    changes = classification_changes(specs, NOV_2023, lowered)
    assert [(ch.key, ch.before.eccn, ch.after.eccn) for ch in changes] == [("mid", "", "3A090.a")]
