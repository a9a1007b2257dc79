"""Credentials for the identity tests: a token signing key, tokens per role, a registry CA with
server and client certificates, and servers started with them."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc

from registry.security.certs import Authority
from registry.security.tokens import generate_key, issue_token


@dataclass
class Credentials:
    """A token key directory (one key, ``k1``) and a revocation file, under ``root``."""

    root: Path

    @classmethod
    def create(cls, root: Path) -> Credentials:
        generate_key(root / "keys", "k1")
        (root / "epcis.key").write_text(os.urandom(32).hex())
        return cls(root)

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def revocations(self) -> Path:
        return self.root / "revoked.txt"

    def token(self, role: str, party: str | None = None, subject: str | None = None, kid: str = "k1",
              **options: Any) -> str:
        token, _ = issue_token(self.keys / f"{kid}.key.pem", subject=subject or f"{role}-{uuid.uuid4().hex[:6]}",
                               role=role, party=party, **options)
        return token

    def md(self, role: str, party: str | None = None, subject: str | None = None) -> list[tuple[str, str]]:
        return bearer(self.token(role, party, subject))

    def settings(self) -> dict[str, Any]:
        """Server settings overrides: bearer tokens required (plaintext on loopback), and the key
        that seals EPCIS webhook subscriptions' signature tokens."""
        return {"token_keys": str(self.keys), "revocation_file": str(self.revocations),
                "epcis_secret_key": str(self.root / "epcis.key")}


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def short_ttl() -> timedelta:
    return timedelta(seconds=1)


@dataclass
class Pki:
    """A registry CA (``root``) with a server certificate for 127.0.0.1."""

    root: Path

    @classmethod
    def create(cls, root: Path) -> Pki:
        ca = Authority.create(root)
        ca.issue_server(root, ["localhost", "127.0.0.1"])
        return cls(root)

    def client(self, subject: str, role: str, party: str | None = None) -> tuple[bytes, bytes]:
        cert, key, _ = Authority.load(self.root).issue_client(self.root / "clients", subject, role, party)
        return cert.read_bytes(), key.read_bytes()

    def settings(self) -> dict[str, Any]:
        return {"tls_cert": str(self.root / "server.pem"), "tls_key": str(self.root / "server.key.pem"),
                "tls_client_ca": str(self.root / "ca.pem")}

    def channel(self, address: str, client: tuple[bytes, bytes] | None) -> grpc.Channel:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(self.root / "ca.pem").read_bytes(),
            private_key=client[1] if client else None, certificate_chain=client[0] if client else None)
        return grpc.secure_channel(address, credentials)
