"""Bearer tokens: a remembered token is still checked for its time window on every call."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from registry.security.principal import CredentialError, Role
from registry.security.tokens import KeySet, TokenVerifier, generate_key, issue_token


def test_a_token_verified_once_is_refused_when_it_expires_although_it_was_remembered(tmp_path: Path) -> None:
    private, _ = generate_key(tmp_path, "k1")
    token, jti = issue_token(private, subject="kakao-ops", role="partner",
                             party="6b0f3d64-2f8b-4bd2-9a53-2a1f1e1b7c11", ttl=timedelta(seconds=1))
    verifier = TokenVerifier(KeySet(tmp_path), None, leeway_seconds=0)
    principal = verifier.verify(token)
    assert (principal.subject, principal.role, principal.token_id) == ("kakao-ops", Role.PARTNER, jti)
    assert verifier.verify(token) is principal  # remembered
    time.sleep(1.2)
    with pytest.raises(CredentialError, match="expired"):
        verifier.verify(token)


def test_issuing_refuses_a_role_the_server_would_refuse(tmp_path: Path) -> None:
    private, _ = generate_key(tmp_path, "k1")
    with pytest.raises(CredentialError, match="role"):
        issue_token(private, subject="x", role="superuser")
    with pytest.raises(CredentialError, match="party"):
        issue_token(private, subject="x", role="site_operator")
