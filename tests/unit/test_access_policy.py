"""The access matrix: one row per RPC, and the table in docs/security.md is the code's."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.security.policy import MATRIX, Confine, matrix_markdown
from registry.security.principal import CredentialError, Principal, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_matrix_in_docs_security_md_is_the_one_the_code_enforces() -> None:
    text = DOC.read_text()
    start = text.index("<!-- matrix:")
    start = text.index("\n", start) + 1
    end = text.index("<!-- end of matrix -->")
    assert text[start:end] == matrix_markdown()


def test_only_partners_and_site_operators_are_confined_and_every_confined_row_allows_one_of_them() -> None:
    for method, rule in MATRIX.items():
        if rule.confine is not Confine.NONE:
            assert rule.roles & {Role.PARTNER, Role.SITE_OPERATOR}, method


def test_nobody_but_the_exporters_staff_and_admin_writes_reference_data_or_decisions() -> None:
    for name in ("RegisterParty", "GrantClearance", "Ship", "ImportScreeningList", "ResolveFinding"):
        rows = [rule for method, rule in MATRIX.items() if method.endswith("/" + name)]
        assert rows and not rows[0].roles & {Role.PARTNER, Role.AUDITOR, Role.REGULATOR, Role.SITE_OPERATOR}


def test_a_partner_credential_must_name_its_party() -> None:
    with pytest.raises(CredentialError, match="party"):
        Principal.of("samsung-ops", "partner", None, via="token")
