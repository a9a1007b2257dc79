"""The registry's certificate authority: a CA key and certificate, a server certificate, and
client certificates that carry the principal.

A client certificate names its principal in subjectAltName URIs (RFC 5280 4.2.1.6):
``urn:gpureg:subject:<subject>``, ``urn:gpureg:role:<role>`` and, for partners and site
operators, ``urn:gpureg:party:<party uuid>``; the subject is also its common name. The server
trusts only certificates that chain to the registry CA (grpc verifies the chain during the TLS
handshake) and reads the principal from these URIs. Keys are ECDSA P-256; private keys are
written 0600.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from registry.security.principal import CredentialError, Principal

URN = "urn:gpureg:"
CA_CERT, CA_KEY = "ca.pem", "ca.key.pem"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sovereign GPU Registry")]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Authority:
    """A CA that signs certificates (its directory holds ca.pem and ca.key.pem)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, directory: Path, name: str = "gpureg registry CA", days: int = 3650) -> Authority:
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / CA_KEY).exists():
            raise FileExistsError(f"{directory / CA_KEY} exists; a CA is created once")
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(directory / CA_KEY, key)
        (directory / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(cert, key)

    @classmethod
    def load(cls, directory: Path) -> Authority:
        cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory / CA_KEY} is not an EC private key")
        return cls(cert, key)

    def _issue(
        self, out: Path, stem: str, subject: x509.Name, san: list[x509.GeneralName], usage: x509.ObjectIdentifier,
        days: int,
    ) -> tuple[Path, Path, int]:
        out.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = out / f"{stem}.pem", out / f"{stem}.key.pem"
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert_path, key_path, serial

    def issue_server(self, out: Path, hosts: list[str], days: int = 825) -> tuple[Path, Path, int]:
        """A TLS server certificate for these DNS names or IP addresses."""
        san: list[x509.GeneralName] = []
        for host in hosts:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                san.append(x509.DNSName(host))
        return self._issue(out, "server", _name(hosts[0]), san, ExtendedKeyUsageOID.SERVER_AUTH, days)

    def issue_client(
        self, out: Path, subject: str, role: str, party: str | None = None, days: int = 365
    ) -> tuple[Path, Path, int]:
        """A client certificate carrying the principal (see the module docstring)."""
        principal = Principal.of(subject, role, party, via="mtls")  # refuse what the server would
        san: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(f"{URN}subject:{quote(principal.subject, safe='')}"),
            x509.UniformResourceIdentifier(f"{URN}role:{principal.role.value}"),
        ]
        if principal.party_id is not None:
            san.append(x509.UniformResourceIdentifier(f"{URN}party:{principal.party_id}"))
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in principal.subject)
        return self._issue(out, stem, _name(principal.subject, principal.role.value), san,
                           ExtendedKeyUsageOID.CLIENT_AUTH, days)


@lru_cache(maxsize=1024)
def principal_of_certificate(pem: bytes) -> tuple[Principal, str]:
    """The principal a (chain-verified) client certificate names, and ``cert:<hex serial>`` for
    the revocation list; CredentialError when it names none."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except (ValueError, x509.ExtensionNotFound):
        raise CredentialError("the client certificate carries no gpureg principal") from None
    parts: dict[str, str] = {}
    for uri in uris:
        if uri.startswith(URN):
            kind, _, value = uri.removeprefix(URN).partition(":")
            if kind in parts:
                raise CredentialError(f"the client certificate names its {kind} twice")
            parts[kind] = unquote(value)
    if "subject" not in parts or "role" not in parts:
        raise CredentialError("the client certificate carries no gpureg subject and role")
    principal = Principal.of(parts["subject"], parts["role"], parts.get("party"), via="mtls")
    return principal, f"cert:{cert.serial_number:x}"
