"""The screening evaluation: a labelled set of name variants built from the lists' own names and
alternate names (tests/data/screening_eval_*), run at the default threshold.

* Positives (``screening_eval_variants.csv``): a query, the list entry it truly is, and the kind of
  variant (legal form, abbreviation, truncation, &/and, punctuation and spacing, word order,
  transliteration). Rows of kind ``alternate-name`` are the lists' own alternate names that spell
  the primary name differently; they are matched against the list WITHOUT its alternate names
  (can the matcher find the entry from the other spelling?). The others are matched against the
  list as published (names and alternate names).
* Negatives (``screening_eval_negatives.txt``): 100 real company names with no relation to any entry.

Targets (docs/compliance.md): recall 1.0 on the true variants; at most 1 false hit per 100
unrelated names. The figures are printed (``pytest -s``) and quoted in docs/compliance.md.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from registry.domain.screening import DEFAULT_THRESHOLD, ListEntry, Matcher, parse_screening_csv

DATA = Path(__file__).parent.parent / "data"


def _entries() -> tuple[ListEntry, ...]:
    return parse_screening_csv((DATA / "screening_eval_list.csv").read_bytes(), "US CSL").entries


def _variants() -> list[dict[str, str]]:
    with (DATA / "screening_eval_variants.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _negatives() -> list[str]:
    return [line.strip() for line in (DATA / "screening_eval_negatives.txt").read_text().splitlines() if line.strip()]


def evaluate(threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    entries = _entries()
    published = Matcher(entries)
    primary_only = Matcher([replace(e, alt_names=()) for e in entries])
    ids = {e.entry_id for e in entries}
    true_pos = false_neg = false_pos = 0
    missed: list[str] = []
    for row in _variants():
        assert row["entry_id"] in ids, row
        matcher = primary_only if row["kind"] == "alternate-name" else published
        found = {m.entry.entry_id for m in matcher.match(row["query"], threshold)}
        if row["entry_id"] in found:
            true_pos += 1
        else:
            false_neg += 1
            missed.append(f"{row['query']} ({row['kind']})")
        false_pos += len(found - {row["entry_id"]})
    negatives = _negatives()
    false_hits = [name for name in negatives if published.match(name, threshold)]
    false_pos += len(false_hits)
    figures = {
        "variants": float(true_pos + false_neg),
        "recall": true_pos / (true_pos + false_neg),
        "precision": true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0,
        "negatives": float(len(negatives)),
        "false_hits_per_100": 100.0 * len(false_hits) / len(negatives),
    }
    print(f"screening evaluation at threshold {threshold}: {figures}; missed {missed}; false hits {false_hits}")
    return figures


def test_every_true_variant_is_found_and_at_most_one_unrelated_name_in_100_is_hit() -> None:
    figures = evaluate()
    assert figures["variants"] >= 80 and figures["negatives"] >= 100
    assert figures["recall"] == 1.0
    assert figures["false_hits_per_100"] <= 1.0


def test_the_evaluation_set_labels_every_kind_of_variant_the_matcher_claims_to_handle() -> None:
    kinds = {row["kind"] for row in _variants()}
    assert kinds == {
        "legal-form", "abbreviation", "truncation", "and-ampersand", "punctuation-spacing", "word-order",
        "transliteration", "alternate-name",
    }
