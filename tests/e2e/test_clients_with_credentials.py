"""The registry's own clients with credentials: the demo loader over mutual TLS and with a bearer
token; the events they write name the credential's subject as actor."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from registry.demo.grpc_load import load_over_grpc, wait_for_projections
from registry.demo.scenario import korea_deployment
from registry.security.client import ClientCredentials
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials, Pki


def test_the_demo_loader_writes_over_mutual_tls_and_with_a_token_as_the_credentials_subject(
    start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    scenario = korea_deployment(0.01, seed=5)
    part = replace(scenario, batches=scenario.batches[:40])
    pki = Pki.create(tmp_path / "pki")
    creds = Credentials.create(tmp_path / "tokens")
    server = start_server(sqlite_url, **pki.settings(), token_keys=str(creds.keys))
    cert, key = pki.client("demo-loader", "admin")
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "c.key.pem").write_bytes(key)
    mtls = ClientCredentials.from_files(pki.root / "ca.pem", tmp_path / "c.pem", tmp_path / "c.key.pem")
    stats = asyncio.run(load_over_grpc(server.address, part, concurrency=4, credentials=mtls))
    assert stats.steps == len(part.reference) + len(part.batches) and stats.replayed == 0
    asyncio.run(wait_for_projections(server.address, stats.last_position, credentials=mtls, timeout=120))
    first = server.registry.history(uuid.UUID(str(part.reference[0].payload[_id_field(part.reference[0])])))[0]
    assert first.actor == "demo-loader"
    # with a bearer token over TLS (a server that takes tokens without client certificates)
    token_server = start_server(sqlite_url.replace(".db", "-t.db"), tls_cert=pki.settings()["tls_cert"],
                                tls_key=pki.settings()["tls_key"], token_keys=str(creds.keys))
    (tmp_path / "token").write_text(creds.token("admin", subject="demo-token"))
    token = ClientCredentials.from_files(pki.root / "ca.pem", token_file=tmp_path / "token")
    loaded = asyncio.run(load_over_grpc(token_server.address, part, concurrency=4, credentials=token))
    assert loaded.replayed == 0 and loaded.steps == stats.steps
    first = token_server.registry.history(uuid.UUID(str(part.reference[0].payload[_id_field(part.reference[0])])))[0]
    assert first.actor == "demo-token"


def _id_field(step: object) -> str:
    payload = step.payload  # type: ignore[attr-defined]
    return next(k for k in payload if k.endswith("_id") and k.split("_")[0] in ("party", "site", "model"))
