"""The cost of identity: command throughput and p99 latency at 16 clients against the same
server on a fresh SQLite store, in plaintext (development mode), with mutual TLS, with bearer
tokens over TLS, and with bearer tokens over plaintext loopback (the token check alone), in one
run. Target: mutual TLS and tokens at most 10 % fewer commands/s than plaintext."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import client
from bench.stats import fmt, summarize
from registry.security.certs import Authority
from registry.security.client import ClientCredentials
from registry.security.tokens import generate_key, issue_token

CLIENTS = 16


def _modes(root: Path) -> list[tuple[str, dict[str, str], ClientCredentials]]:
    ca = Authority.create(root / "pki")
    ca.issue_server(root / "pki", ["localhost", "127.0.0.1"])
    cert, key, _ = ca.issue_client(root / "pki", "bench-client", "admin")
    private, _ = generate_key(root / "keys", "bench")
    token, _ = issue_token(private, subject="bench-token", role="admin")
    (root / "token").write_text(token)
    tls = {"GPUREG_TLS_CERT": str(root / "pki" / "server.pem"), "GPUREG_TLS_KEY": str(root / "pki" / "server.key.pem")}
    ca_pem = root / "pki" / "ca.pem"
    return [
        ("plaintext", {}, ClientCredentials()),
        ("mutual TLS", {**tls, "GPUREG_TLS_CLIENT_CA": str(ca_pem)},
         ClientCredentials.from_files(ca_pem, cert, key)),
        ("token over TLS", {**tls, "GPUREG_TOKEN_KEYS": str(root / "keys")},
         ClientCredentials.from_files(ca_pem, token_file=root / "token")),
        ("token, plaintext loopback", {"GPUREG_TOKEN_KEYS": str(root / "keys")},
         ClientCredentials.from_files(token_file=root / "token")),
    ]


def measure_auth(
    workdir: Path, duration: float, warmup: float, plan: Callable[[str, int], Any], reference: list[Any],
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    from registry.demo.server_process import serve_in_subprocess

    rows: list[dict[str, Any]] = []
    root = workdir / "auth"
    try:
        for n, (mode, env, credentials) in enumerate(_modes(root)):
            url = f"sqlite:///{workdir / f'auth-{n}.db'}"
            with serve_in_subprocess(url, extra_env=env) as server:
                client.use_credentials(credentials)
                for step in reference:  # in order: a subsidiary after its parent
                    asyncio.run(client.send_all(server.address, [step]))
                plans = [plan(f"a{n}", c) for c in range(CLIENTS)]
                r = asyncio.run(client.closed_loop(server.address, plans, duration=duration, warmup=warmup))
            lat = summarize(r.latencies)
            rows.append({"mode": mode, "clients": CLIENTS, "throughput": r.throughput, "errors": r.errors,
                         "latency": lat.as_dict(), "error_samples": r.error_samples})
            say(f"  {mode}: {fmt(r.throughput)} commands/s, p50 {fmt(lat.p50_ms)} ms, p99 {fmt(lat.p99_ms)} ms, "
                f"{r.errors} errors" + (f" (e.g. {r.error_samples[0]})" if r.error_samples else ""))
    finally:
        client.use_credentials(ClientCredentials())
    return rows
