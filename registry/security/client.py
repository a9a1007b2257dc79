"""Client-side credentials for the registry's own clients (the demo loader, the benchmark, tests):
a CA to verify the server, a client certificate for mutual TLS, and/or a bearer token.

From files or the environment: ``GPUREG_CLIENT_CA`` (the registry CA, PEM), ``GPUREG_CLIENT_CERT``
and ``GPUREG_CLIENT_KEY`` (a client certificate from ``gpureg certs client``),
``GPUREG_CLIENT_TOKEN_FILE`` (a token from ``gpureg tokens issue``). Without a CA the channel is
plaintext (development mode, or tokens on loopback).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc


@dataclass(frozen=True)
class ClientCredentials:
    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None
    token: str | None = None

    @classmethod
    def from_files(
        cls, ca: str | Path | None = None, cert: str | Path | None = None, key: str | Path | None = None,
        token_file: str | Path | None = None,
    ) -> ClientCredentials:
        if bool(cert) != bool(key):
            raise ValueError("a client certificate and its key go together")

        def read(path: str | Path | None) -> bytes | None:
            return Path(path).read_bytes() if path else None

        token = Path(token_file).read_text().strip() if token_file else None
        return cls(read(ca), read(cert), read(key), token or None)

    @classmethod
    def from_env(cls) -> ClientCredentials:
        env = os.environ.get
        return cls.from_files(env("GPUREG_CLIENT_CA"), env("GPUREG_CLIENT_CERT"), env("GPUREG_CLIENT_KEY"),
                              env("GPUREG_CLIENT_TOKEN_FILE"))

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def _tls(self) -> Any:
        return grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.key,
                                            certificate_chain=self.cert)

    def aio_channel(self, target: str, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
        if self.ca is None:
            return grpc.aio.insecure_channel(target, options=list(options))
        return grpc.aio.secure_channel(target, self._tls(), options=list(options))

    def channel(self, target: str, options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
        if self.ca is None:
            return grpc.insecure_channel(target, options=list(options))
        return grpc.secure_channel(target, self._tls(), options=list(options))
