"""Export classification of GPUs under ECCN 3A090 / 4A090, as versioned rulesets.

Pure code: no store, no clock. A :class:`Ruleset` is data (thresholds, citations, the date it took
effect), so a corrected figure or a new rule is a new ruleset, never an edit of history. A
:class:`Classification` records its inputs, the ruleset it used and every test it ran, so an
auditor can see *why* a model is (or is not) controlled; :meth:`Classification.to_evidence` gives
it as a plain dict for an event (``GpuBatch.ClearanceGranted.evidence``).

Definitions (88 FR 73458, 15 CFR 774 Supp. 1, ECCN 3A090, technical notes):

* TPP (total processing performance) = 2 x MacTOPS x bit length of the operation. A multiply-add
  counts as two operations, so 2 x MacTOPS is the vendor's dense TOPS (or TFLOPS): TPP = dense
  TOPS x bit length. Sparse figures do not count. The precision giving the highest TPP governs.
* PD (performance density) = TPP / applicable die area in mm^2.

Assumption of this registry: a GPU model's ``dense_tops`` and ``die_area_mm2`` describe ONE GPU
(the integrated circuit); ``gpus_per_unit`` says how many such ICs a unit (a server, a rack)
holds. A unit with more than one GPU is classified as the system (4A090) containing that IC.
An unknown die area (0) is treated conservatively: the density tests are taken as met.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, Protocol

from registry.domain.errors import ComplianceRefusal, InvalidField


class ControlStatus(StrEnum):
    CONTROLLED = "controlled"  # 3A090.a/.b or 4A090.a/.b
    EXCLUDED_NOTE_2 = "excluded_note_2"  # meets .a.2/.b parameters but Note 2 takes it out
    NOT_CONTROLLED = "not_controlled"  # below every 3A090 threshold


@dataclass(frozen=True)
class Ruleset:
    """The 3A090 thresholds in force from ``effective_from`` (until the next ruleset).

    Every figure is data a user can correct by registering a new ruleset with a later date.
    """

    ruleset_id: str
    title: str
    effective_from: datetime
    citation: str
    # 3A090.a: TPP >= tpp_a, or TPP >= tpp_a2 and PD >= pd_a2
    tpp_a: Decimal = Decimal(4800)
    tpp_a2: Decimal = Decimal(1600)
    pd_a2: Decimal = Decimal("5.92")
    # 3A090.b.1: tpp_b1_low <= TPP < tpp_b1_high and pd_b1_low <= PD < pd_a2
    tpp_b1_low: Decimal = Decimal(2400)
    tpp_b1_high: Decimal = Decimal(4800)
    pd_b1_low: Decimal = Decimal("1.6")
    # 3A090.b.2: TPP >= tpp_b2 and pd_b2_low <= PD < pd_a2
    tpp_b2: Decimal = Decimal(1600)
    pd_b2_low: Decimal = Decimal("3.2")
    # Note 2: 3A090 does not apply to ICs not designed or marketed for datacenters with TPP < this
    note2_tpp: Decimal = Decimal(4800)
    note2_citation: str = "Note 2 to ECCN 3A090"
    system_eccn_prefix: str = "4A090"
    chip_eccn_prefix: str = "3A090"
    # Where a license is needed for a controlled item (read by registry.domain.licensing).
    license_groups: tuple[str, ...] = ("D:1", "D:4", "D:5", "Macau")
    carve_out_groups: tuple[str, ...] = ("A:5", "A:6")
    destination_citation: str = "15 CFR 742.6(a)(6)(iii)"
    headquarters_citation: str = "15 CFR 742.6(a)(6)(iii)(A)"
    # License exceptions (15 CFR 740.8) usable instead of a license, each held to its own scope:
    # NAC (notified) for destinations in D:5 or Macau and for headquarters-rule cases (an entity
    # headquartered, or whose ultimate parent is, in D:5 or Macau, wherever located); ACA (no
    # notification) for destinations in D:1 or D:4 not also in D:5 or Macau. Data: verify against 740.8.
    exceptions_for_d5_or_macau: tuple[str, ...] = ("NAC",)
    exceptions_for_other_groups: tuple[str, ...] = ("ACA",)
    exceptions_for_headquarters_rule: tuple[str, ...] = ("NAC",)
    # The AES/EEI license code of each license exception, as "CODE=AES" pairs (NAC is filed as C67).
    aes_license_codes: tuple[str, ...] = ("NAC=C67",)
    # BIS diversion red flags (guidance of 13 May 2025), in GPUs (units x GPUs per unit). The
    # guidance names no figures: these are estimates (est.) for a user to correct. A purchaser's
    # first order of at least ``red_flag_large_volume_gpus`` is a first-time buyer of a large
    # volume; a shipment of at least ``red_flag_commercial_quantity_gpus`` (one 8-GPU server) is
    # a commercial quantity, a red flag when it goes to a residential or vague address.
    red_flag_large_volume_gpus: int = 1000
    red_flag_commercial_quantity_gpus: int = 8
    red_flag_citation: str = "BIS guidance on diversion red flags for advanced computing ICs (13 May 2025)"

    def __post_init__(self) -> None:
        for name in ("red_flag_large_volume_gpus", "red_flag_commercial_quantity_gpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidField.one(name, "a whole number of GPUs >= 1 (red-flag threshold)")

    def aes_license_code(self, exception_code: str) -> str:
        """The AES license code to file for a license exception ("" when the data has none)."""
        wanted = exception_code.strip().upper()
        for pair in self.aes_license_codes:
            code, _, aes = pair.partition("=")
            if code.strip().upper() == wanted and wanted:
                return aes.strip()
        return ""

    def describe(self) -> dict[str, Any]:
        """The thresholds as plain values (for evidence and for a user to review)."""
        return {
            "ruleset_id": self.ruleset_id,
            "title": self.title,
            "effective_from": self.effective_from.isoformat(),
            "citation": self.citation,
            "tpp_a": str(self.tpp_a),
            "tpp_a2": str(self.tpp_a2),
            "pd_a2": str(self.pd_a2),
            "tpp_b1_low": str(self.tpp_b1_low),
            "tpp_b1_high": str(self.tpp_b1_high),
            "pd_b1_low": str(self.pd_b1_low),
            "tpp_b2": str(self.tpp_b2),
            "pd_b2_low": str(self.pd_b2_low),
            "note2_tpp": str(self.note2_tpp),
            "license_groups": list(self.license_groups),
            "carve_out_groups": list(self.carve_out_groups),
            "destination_citation": self.destination_citation,
            "headquarters_citation": self.headquarters_citation,
            "red_flag_large_volume_gpus": self.red_flag_large_volume_gpus,
            "red_flag_commercial_quantity_gpus": self.red_flag_commercial_quantity_gpus,
        }


# The rule of 17 November 2023 (interim final rule of 25 October 2023, 88 FR 73458).
NOV_2023 = Ruleset(
    ruleset_id="3A090-2023-11",
    title="Advanced computing ICs: TPP and performance density (IFR 88 FR 73458)",
    effective_from=datetime(2023, 11, 17, tzinfo=UTC),
    citation="15 CFR 774 Supp. 1, ECCN 3A090 (88 FR 73458, effective 2023-11-17)",
)


class RulesetRegistry:
    """Rulesets by effective date: the one in force at a time is the latest that has started."""

    def __init__(self, rulesets: Iterable[Ruleset]) -> None:
        ordered = sorted(rulesets, key=lambda r: r.effective_from)
        ids = [r.ruleset_id for r in ordered]
        if len(set(ids)) != len(ids):
            raise ValueError(f"ruleset ids must be unique: {ids}")
        if not ordered:
            raise ValueError("at least one ruleset")
        self._rulesets = tuple(ordered)

    @property
    def rulesets(self) -> tuple[Ruleset, ...]:
        return self._rulesets

    def get(self, ruleset_id: str) -> Ruleset:
        for r in self._rulesets:
            if r.ruleset_id == ruleset_id:
                return r
        raise KeyError(ruleset_id)

    def in_force(self, at: datetime) -> Ruleset:
        current: Ruleset | None = None
        for r in self._rulesets:
            if r.effective_from <= at:
                current = r
        if current is None:
            raise ComplianceRefusal(
                "classification-ruleset",
                f"no classification ruleset in force at {at.isoformat()}; the earliest starts "
                f"{self._rulesets[0].effective_from.isoformat()}",
                facts={"at": at.isoformat(), "earliest": self._rulesets[0].effective_from.isoformat()},
            )
        return current

    def with_ruleset(self, ruleset: Ruleset) -> RulesetRegistry:
        """A new registry with one more (or a replacing) ruleset; this one is unchanged."""
        return RulesetRegistry([r for r in self._rulesets if r.ruleset_id != ruleset.ruleset_id] + [ruleset])


DEFAULT_RULESETS = RulesetRegistry([NOV_2023])


class GpuModelLike(Protocol):
    """What classification reads from a GPU model (``registry.domain.reference.GpuModel``)."""

    name: str
    dense_tops: dict[str, Decimal]
    bit_lengths: dict[str, int]
    die_area_mm2: Decimal
    datacenter_marketed: bool
    gpus_per_unit: int


@dataclass(frozen=True)
class ModelSpec:
    """The inputs of a classification, copied from a GPU model."""

    name: str
    dense_tops: Mapping[str, Decimal]
    bit_lengths: Mapping[str, int]
    die_area_mm2: Decimal
    datacenter_marketed: bool
    gpus_per_unit: int = 1

    @classmethod
    def of(cls, model: GpuModelLike) -> ModelSpec:
        return cls(
            name=model.name,
            dense_tops={k: Decimal(v) for k, v in model.dense_tops.items()},
            bit_lengths=dict(model.bit_lengths),
            die_area_mm2=Decimal(model.die_area_mm2),
            datacenter_marketed=bool(model.datacenter_marketed),
            gpus_per_unit=int(model.gpus_per_unit),
        )


def _q(value: Decimal, places: str = "0.0001") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Classification:
    """The outcome of classifying one model under one ruleset, with the reasons."""

    ruleset_id: str
    ruleset_citation: str
    spec: ModelSpec
    tpp_by_precision: Mapping[str, Decimal]
    tpp: Decimal
    governing_precision: str
    performance_density: Decimal | None  # rounded to 4 places for display; None if the area is unknown
    status: ControlStatus
    eccn: str  # "3A090.a", "3A090.b", "4A090.a", "4A090.b", or "" when not under 3A090/4A090
    paragraphs: tuple[str, ...]  # e.g. ("3A090.a.1",): every paragraph whose test is met
    reasons: tuple[str, ...] = field(default=())

    @property
    def controlled(self) -> bool:
        return self.status == ControlStatus.CONTROLLED

    @property
    def chip_eccn(self) -> str:
        """The 3A090 paragraph of the IC itself, also for a system."""
        return "3A090" + self.eccn[5:] if self.eccn else ""

    def to_evidence(self) -> dict[str, Any]:
        """Plain JSON values: the inputs, the ruleset, the computed figures and the result."""
        return {
            "ruleset_id": self.ruleset_id,
            "ruleset_citation": self.ruleset_citation,
            "inputs": {
                "model_name": self.spec.name,
                "dense_tops": {k: str(v) for k, v in sorted(self.spec.dense_tops.items())},
                "bit_lengths": dict(sorted(self.spec.bit_lengths.items())),
                "die_area_mm2": str(self.spec.die_area_mm2),
                "datacenter_marketed": self.spec.datacenter_marketed,
                "gpus_per_unit": self.spec.gpus_per_unit,
            },
            "tpp_by_precision": {k: _fmt(v) for k, v in sorted(self.tpp_by_precision.items())},
            "tpp": _fmt(self.tpp),
            "governing_precision": self.governing_precision,
            "performance_density": (
                str(self.performance_density) if self.performance_density is not None else None
            ),
            "status": self.status.value,
            "eccn": self.eccn,
            "paragraphs": list(self.paragraphs),
            "reasons": list(self.reasons),
        }


def total_processing_performance(spec: ModelSpec) -> tuple[dict[str, Decimal], Decimal, str]:
    """TPP per precision (dense TOPS x bit length), the highest, and the precision giving it."""
    per: dict[str, Decimal] = {}
    for precision, tops in spec.dense_tops.items():
        bits = spec.bit_lengths.get(precision)
        if bits is None:
            continue  # GpuModel.register refuses this; a spec built by hand may lack it
        per[precision] = Decimal(tops) * bits
    if not per:
        return per, Decimal(0), ""
    best = max(sorted(per), key=lambda p: per[p])
    return per, per[best], best


@dataclass(frozen=True)
class Verdict:
    """The rule outcome for given figures (before it is wrapped with its inputs)."""

    status: ControlStatus
    eccn: str
    paragraphs: tuple[str, ...]
    reasons: tuple[str, ...]


def decide(
    tpp: Decimal,
    density: Decimal | None,
    datacenter_marketed: bool,
    gpus_per_unit: int,
    ruleset: Ruleset,
) -> Verdict:
    """Apply the 3A090 / 4A090 tests to exact figures. ``density`` None means unknown (conservative:
    every density test is taken as met). Comparisons use the exact values, never rounded ones."""
    r = ruleset
    pd = Decimal("Infinity") if density is None else density
    paragraphs: list[str] = []
    if tpp >= r.tpp_a:
        paragraphs.append("3A090.a.1")
    if tpp >= r.tpp_a2 and pd >= r.pd_a2:
        paragraphs.append("3A090.a.2")
    if r.tpp_b1_low <= tpp < r.tpp_b1_high and r.pd_b1_low <= pd < r.pd_a2:
        paragraphs.append("3A090.b.1")
    if tpp >= r.tpp_b2 and r.pd_b2_low <= pd < r.pd_a2:
        paragraphs.append("3A090.b.2")
    reasons = [f"meets {p}" for p in paragraphs]
    if any(p.startswith("3A090.a") for p in paragraphs):
        sub = "a"
    elif paragraphs:
        sub = "b"
    else:
        sub = ""

    if not sub:
        status = ControlStatus.NOT_CONTROLLED
        reasons.append("below every 3A090 threshold")
    elif not datacenter_marketed and tpp < r.note2_tpp:
        status = ControlStatus.EXCLUDED_NOTE_2
        reasons.append(
            f"{r.note2_citation}: not designed or marketed for datacenters and TPP "
            f"{_fmt(tpp)} < {_fmt(r.note2_tpp)}"
        )
    else:
        status = ControlStatus.CONTROLLED

    eccn = ""
    if status == ControlStatus.CONTROLLED:
        if gpus_per_unit > 1:
            eccn = f"{r.system_eccn_prefix}.{sub}"
            reasons.append(f"a unit holds {gpus_per_unit} ICs meeting {r.chip_eccn_prefix}.{sub}: {eccn}")
        else:
            eccn = f"{r.chip_eccn_prefix}.{sub}"
    return Verdict(status, eccn, tuple(paragraphs), tuple(reasons))


def classify(spec: ModelSpec, ruleset: Ruleset) -> Classification:
    """Classify one GPU model (or a system holding ``gpus_per_unit`` of it) under ``ruleset``."""
    per, tpp, governing = total_processing_performance(spec)
    reasons: list[str] = []
    if governing:
        reasons.append(
            f"TPP {_fmt(tpp)} = {_fmt(spec.dense_tops[governing])} dense {governing} TOPS x "
            f"{spec.bit_lengths[governing]} bits (highest of {len(per)} precision(s))"
        )
    else:
        reasons.append("no dense throughput declared: TPP 0")
    density: Decimal | None = None
    if spec.die_area_mm2 > 0:
        density = tpp / spec.die_area_mm2
        reasons.append(f"PD {_fmt(_q(density))} = TPP / {_fmt(spec.die_area_mm2)} mm^2")
    else:
        reasons.append("die area unknown: the density tests are taken as met (conservative)")
    verdict = decide(tpp, density, spec.datacenter_marketed, spec.gpus_per_unit, ruleset)
    return Classification(
        ruleset_id=ruleset.ruleset_id,
        ruleset_citation=ruleset.citation,
        spec=spec,
        tpp_by_precision=per,
        tpp=tpp,
        governing_precision=governing,
        performance_density=_q(density) if density is not None else None,
        status=verdict.status,
        eccn=verdict.eccn,
        paragraphs=verdict.paragraphs,
        reasons=(*reasons, *verdict.reasons),
    )


@dataclass(frozen=True)
class ClassificationChange:
    """A model whose classification differs between two rulesets (rule-change impact)."""

    key: str
    before: Classification
    after: Classification


def classification_changes(
    specs: Mapping[str, ModelSpec], before: Ruleset, after: Ruleset
) -> list[ClassificationChange]:
    """Which models (keyed by any id) change ECCN or status when ``after`` replaces ``before``."""
    changes: list[ClassificationChange] = []
    for key in sorted(specs):
        a, b = classify(specs[key], before), classify(specs[key], after)
        if (a.eccn, a.status) != (b.eccn, b.status):
            changes.append(ClassificationChange(key, a, b))
    return changes


def _fmt(value: Decimal) -> str:
    """A Decimal without a trailing exponent or needless zeros: 15832, 19.45, 5.92."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
