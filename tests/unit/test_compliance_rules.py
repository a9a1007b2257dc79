"""The rule catalogue names every rule the registry refuses by, with its citation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import registry
from registry.domain.compliance_rules import RULES, retention_until


def test_every_rule_a_refusal_names_is_in_the_catalogue_with_a_citation() -> None:
    root = Path(registry.__file__).parent
    source = "\n".join(p.read_text() for p in root.rglob("*.py"))
    refused = set(re.findall(r'ComplianceRefusal\(\s*"([a-z0-9-]+)"', source))
    refused |= set(re.findall(r'rule="([a-z0-9-]+)"', source))
    problems = set(re.findall(r'Problem\(\s*"([a-z0-9-]+)"', source))  # registry.domain.policy
    assert {"headquarters-rule", "screening-hit"} <= refused
    assert {"authorization-quantity", "authorization-validity", "headquarters-intermediate-owner"} <= problems
    missing = sorted((refused | problems) - set(RULES))
    assert missing == []
    assert all(RULES[r].citation and RULES[r].kind == "decision" for r in refused)
    assert all(RULES[r].citation for r in problems)


def test_records_are_kept_five_years_from_the_latest_export_or_transfer() -> None:
    assert retention_until(datetime(2026, 3, 2, tzinfo=UTC)) == datetime(2031, 3, 2, tzinfo=UTC)
    assert retention_until(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2033, 2, 28, tzinfo=UTC)
