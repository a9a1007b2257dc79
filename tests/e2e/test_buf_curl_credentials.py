"""The README's `buf curl` examples against an authenticating registry: a partner calls it with
its client certificate (mutual TLS), or with its bearer token over TLS; without either, nothing."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials, Pki

BUF = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "buf"


@pytest.fixture
def buf() -> Path:
    if not BUF.exists():
        pytest.fail(f"{BUF} is missing: run `make tools` (npm ci), which `make test` does for you")
    return BUF


def curl(buf: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(buf), "curl", "--protocol", "grpc", "--timeout", "30s", *args, url],
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_partner_calls_the_api_with_buf_curl_using_its_certificate_or_its_token(
    buf: Path, start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    pki = Pki.create(tmp_path / "pki")
    creds = Credentials.create(tmp_path / "tokens")
    server = start_server(sqlite_url, **pki.settings(), token_keys=str(creds.keys))
    party = str(uuid.uuid4())
    cert, key = pki.client("samsung-dc", "partner", party)
    (tmp_path / "samsung-dc.pem").write_bytes(cert)
    (tmp_path / "samsung-dc.key.pem").write_bytes(key)
    ca = str(pki.root / "ca.pem")
    url = f"https://{server.address}/registry.api.v1.QueryService/ListBatches"
    with_cert = curl(buf, url, "--cacert", ca, "--cert", str(tmp_path / "samsung-dc.pem"),
                     "--key", str(tmp_path / "samsung-dc.key.pem"), "-d", '{"page_size": 5}')
    assert with_cert.returncode == 0, with_cert.stderr
    assert json.loads(with_cert.stdout or "{}").get("batches", []) == []
    # a token needs a certificate-less TLS connection: this server requires certificates, so a
    # token-only client is refused at the handshake; a TLS + token server takes it
    token_server = start_server(sqlite_url.replace(".db", "-t.db"),
                                tls_cert=pki.settings()["tls_cert"], tls_key=pki.settings()["tls_key"],
                                token_keys=str(creds.keys))
    token = creds.token("partner", party, subject="samsung-procurement")
    token_url = f"https://{token_server.address}/registry.api.v1.QueryService/ListBatches"
    with_token = curl(buf, token_url, "--cacert", ca, "-H", f"authorization: Bearer {token}",
                      "--reflect-header", "*", "-d", '{"page_size": 5}')
    assert with_token.returncode == 0, with_token.stderr
    without = curl(buf, token_url, "--cacert", ca, "-d", '{"page_size": 5}')
    assert without.returncode != 0  # not even reflection answers without a credential
    assert token_server.server.auth.denials[("UNAUTHENTICATED", "NO_CREDENTIAL")] >= 1  # type: ignore[union-attr]
    listed = curl(buf, f"https://{token_server.address}", "--cacert", ca, "-H", f"authorization: Bearer {token}",
                  "--reflect-header", "*", "--list-services")
    assert listed.returncode == 0 and "registry.api.v1.QueryService" in listed.stdout, listed.stderr
