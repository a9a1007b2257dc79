"""How the server is reached: TLS and which credentials it accepts, decided from the settings
before it binds. A server that would expose the API without authentication to anything but
this host refuses to start, saying how to set authentication up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from registry.config import Settings
from registry.security.tokens import KeySet, RevocationList, TokenVerifier
from registry.server.auth import Authenticator, is_loopback

HOW_TO = (
    "set up authentication first (docs/security.md):\n"
    "  gpureg certs init --dir var/pki\n"
    "  gpureg certs server --dir var/pki --host <this host's name or IP>\n"
    "  gpureg serve --listen <host:port> --tls-cert var/pki/server.pem --tls-key var/pki/server.key.pem \\\n"
    "               --tls-client-ca var/pki/ca.pem            # mutual TLS: clients present certificates\n"
    "  and/or  --token-keys var/token-keys                  # bearer tokens (gpureg tokens keygen / issue)"
)

BANNER = (
    "!!! DEVELOPMENT MODE: plaintext, NO authentication. Every caller is the development identity\n"
    "!!! (role admin; its actor is the x-gpureg-actor header or the default actor). Only loopback\n"
    "!!! clients can connect. Never use this for real data: see docs/security.md."
)


class InsecureConfiguration(RuntimeError):
    """The settings would serve the API without transport security or authentication."""


@dataclass(frozen=True)
class ServerSecurity:
    """What :class:`registry.server.app.ApiServer` binds with and authenticates by."""

    credentials: Any  # grpc.ServerCredentials, or None for plaintext
    authenticator: Authenticator
    mode: str  # for the start-up line

    @property
    def development(self) -> bool:
        return self.authenticator.development


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise InsecureConfiguration(f"cannot read the {what} {path}: {e.strerror}") from None


def plan_security(settings: Settings) -> ServerSecurity:
    """Decide TLS and authentication from ``settings``; InsecureConfiguration when unsafe."""
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise InsecureConfiguration("--tls-cert and --tls-key go together")
    revocations = RevocationList(Path(settings.revocation_file)) if settings.revocation_file else None
    tokens = None
    if settings.token_keys:
        try:
            keys = KeySet(Path(settings.token_keys))
        except FileNotFoundError as e:
            raise InsecureConfiguration(str(e)) from None
        tokens = TokenVerifier(keys, revocations, settings.token_issuer, settings.token_audience)
    if not settings.default_actor.strip():
        raise InsecureConfiguration("default_actor must not be empty")
    loopback = is_loopback(settings.listen)
    if settings.tls_cert and settings.tls_key:
        client_ca = _read(settings.tls_client_ca, "client CA") if settings.tls_client_ca else None
        if client_ca is None and tokens is None:
            raise InsecureConfiguration(
                "TLS without client authentication would let anyone call the API: add --tls-client-ca "
                "(mutual TLS) and/or --token-keys (bearer tokens)\n" + HOW_TO)
        credentials = grpc.ssl_server_credentials(
            [(_read(settings.tls_key, "TLS key"), _read(settings.tls_cert, "TLS certificate"))],
            root_certificates=client_ca, require_client_auth=client_ca is not None,
        )
        kinds = (["mutual TLS"] if client_ca else ["TLS"]) + (["bearer tokens"] if tokens else [])
        return ServerSecurity(credentials, Authenticator(False, settings.default_actor, tokens, revocations),
                              " + ".join(kinds))
    if settings.tls_client_ca:
        raise InsecureConfiguration("--tls-client-ca needs --tls-cert and --tls-key")
    if not loopback:
        raise InsecureConfiguration(
            f"refusing to serve {settings.listen} without TLS and authentication: anyone on the network "
            "could read every partner's data and act as anyone.\n" + HOW_TO)
    if tokens is not None:  # plaintext, but only this host can connect: tokens still required
        return ServerSecurity(None, Authenticator(False, settings.default_actor, tokens, revocations),
                              "plaintext on loopback + bearer tokens")
    return ServerSecurity(None, Authenticator(True, settings.default_actor, None, revocations),
                          "DEVELOPMENT MODE (plaintext, no authentication)")
