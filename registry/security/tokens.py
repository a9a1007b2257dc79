"""Bearer tokens: EdDSA (Ed25519) JWTs with issuer, audience, expiry, not-before and key id
(RFC 7519, RFC 8037), verified against a directory of public keys that is re-read when it
changes, and a revocation list of token ids (``jti``) and certificate serials.

Key files: ``<kid>.key.pem`` (PKCS#8 private key, mode 0600, only where tokens are issued) and
``<kid>.pub.pem`` (the public key the server trusts). Rotation: add a new key pair, issue with
it, and delete the old ``.pub.pem`` once the longest-lived token it signed has expired; the
server notices both without a restart (docs/security.md).
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.security.principal import CredentialError, Principal, Role

ALGORITHM = "EdDSA"
DEFAULT_ISSUER = "gpureg"
DEFAULT_AUDIENCE = "gpureg-api"
KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: how often a key directory or revocation file is checked for changes
RELOAD_SECONDS = 1.0


def _check_kid(kid: str) -> str:
    if not KID_PATTERN.fullmatch(kid):
        raise ValueError("a key id is 1 to 64 letters, digits, '.', '_' or '-'")
    return kid


def generate_key(directory: Path, kid: str) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair ``<kid>.key.pem`` (0600) and ``<kid>.pub.pem``."""
    _check_kid(kid)
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"{kid}.key.pem", directory / f"{kid}.pub.pem"
    if private.exists() or public.exists():
        raise FileExistsError(f"key {kid} already exists in {directory}")
    key = Ed25519PrivateKey.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def issue_token(
    private_key: Path,
    *,
    subject: str,
    role: str,
    party: str | None = None,
    ttl: timedelta = timedelta(hours=1),
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> tuple[str, str]:
    """A signed token and its id (jti). The key id is the key file's name before ``.key.pem``."""
    name = private_key.name
    if not name.endswith(".key.pem"):
        raise ValueError("the signing key file is named <kid>.key.pem")
    kid = _check_kid(name.removesuffix(".key.pem"))
    Principal.of(subject, role, party, via="token")  # refuse to sign what the server would refuse
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    key = serialization.load_pem_private_key(private_key.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{private_key} is not an Ed25519 private key")
    issued = now or datetime.now(UTC)
    jti = str(uuid.uuid4())
    claims: dict[str, Any] = {
        "iss": issuer, "aud": audience, "sub": subject, "role": role,
        "iat": int(issued.timestamp()), "nbf": int((not_before or issued).timestamp()),
        "exp": int((issued + ttl).timestamp()), "jti": jti,
    }
    if party:
        claims["party"] = party
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid}), jti


class _Watched:
    """A file or directory re-read when its modification signature changes (at most every
    RELOAD_SECONDS)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: object = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _sig(self) -> object:
        raise NotImplementedError

    def _load(self) -> None:
        raise NotImplementedError

    def current(self) -> None:
        now = time.monotonic()
        if now - self._checked < RELOAD_SECONDS and self._signature is not None:
            return
        with self._lock:
            self._checked = now
            signature = self._sig()
            if signature != self._signature:
                self._load()
                self._signature = signature


class KeySet(_Watched):
    """The trusted public keys: every ``<kid>.pub.pem`` in a directory."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self._keys: dict[str, Ed25519PublicKey] = {}
        if not directory.is_dir():
            raise FileNotFoundError(f"token key directory {directory} does not exist")
        self.current()

    def _sig(self) -> object:
        try:
            return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                                for p in self.path.glob("*.pub.pem")))
        except OSError:
            return None

    def _load(self) -> None:
        keys: dict[str, Ed25519PublicKey] = {}
        for p in self.path.glob("*.pub.pem"):
            kid = p.name.removesuffix(".pub.pem")
            try:
                key = serialization.load_pem_public_key(p.read_bytes())
            except (OSError, ValueError):
                continue  # a half-written or foreign file: not a key we trust
            if KID_PATTERN.fullmatch(kid) and isinstance(key, Ed25519PublicKey):
                keys[kid] = key
        self._keys = keys

    def key(self, kid: str) -> Ed25519PublicKey | None:
        self.current()
        return self._keys.get(kid)


class RevocationList(_Watched):
    """Revoked token ids (one ``jti`` a line) and certificate serials (``cert:<hex serial>``);
    ``#`` starts a comment. A missing file revokes nothing."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._entries: frozenset[str] = frozenset()
        self.current()

    def _sig(self) -> object:
        try:
            st = self.path.stat()
        except OSError:
            return ("missing",)
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        try:
            text = self.path.read_text()
        except OSError:
            self._entries = frozenset()
            return
        self._entries = frozenset(
            line.split("#", 1)[0].strip().lower() for line in text.splitlines() if line.split("#", 1)[0].strip())

    def revoked(self, entry: str) -> bool:
        self.current()
        return entry.lower() in self._entries


def revoke(path: Path, entry: str, note: str = "") -> None:
    """Append one entry (a jti, or ``cert:<hex serial>``) to a revocation file."""
    line = entry.strip() + (f"  # {note}" if note else "") + "\n"
    with path.open("a") as f:
        f.write(line)


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    kid: str
    key: Ed25519PublicKey
    not_before: float
    expires: float


@dataclass
class TokenVerifier:
    """Checks a bearer token and names its principal; CredentialError says why not.

    A token whose signature verified is remembered (up to ``cache_size`` tokens), so a client's
    next call costs a dictionary lookup instead of an Ed25519 verification; its time window, its
    key still being trusted (the same key under its kid) and the revocation list are checked on
    every call."""

    keys: KeySet
    revocations: RevocationList | None
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    leeway_seconds: float = 30.0
    cache_size: int = 10_000

    def __post_init__(self) -> None:
        self._cache: dict[str, _Verified] = {}

    def verify(self, token: str) -> Principal:
        hit = self._cache.get(token)
        if hit is not None:
            now = time.time()
            if (hit.not_before - self.leeway_seconds <= now < hit.expires + self.leeway_seconds
                    and self.keys.key(hit.kid) is hit.key
                    and not (self.revocations is not None and self.revocations.revoked(hit.principal.token_id or ""))):
                return hit.principal
            del self._cache[token]  # expired, key retired or revoked: the full check says which
        principal, verified = self._verify(token)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[token] = verified
        return principal

    def _verify(self, token: str) -> tuple[Principal, _Verified]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise CredentialError("the bearer token is not a JWT") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM:
            raise CredentialError(f"token algorithm must be {ALGORITHM}")
        key = self.keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise CredentialError("token key id is not a trusted key")
        try:
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["exp", "nbf", "iss", "aud", "sub", "jti", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise CredentialError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise CredentialError("token not yet valid (nbf)") from None
        except jwt.InvalidAudienceError:
            raise CredentialError("token audience is not this registry") from None
        except jwt.InvalidIssuerError:
            raise CredentialError("token issuer is not trusted") from None
        except jwt.InvalidSignatureError:
            raise CredentialError("token signature does not verify") from None
        except jwt.MissingRequiredClaimError as e:
            raise CredentialError(f"token lacks the {e.claim!r} claim") from None
        except jwt.PyJWTError as e:
            raise CredentialError(f"token rejected: {type(e).__name__}") from None
        jti = str(claims["jti"])
        if self.revocations is not None and self.revocations.revoked(jti):
            raise CredentialError(f"token {jti} is revoked")
        party = claims.get("party")
        principal = Principal.of(str(claims["sub"]), str(claims["role"]),
                                 str(party) if party else None, via="token", token_id=jti)
        return principal, _Verified(principal, str(kid), key, float(claims["nbf"]), float(claims["exp"]))


__all__ = ["Role", "TokenVerifier", "generate_key", "issue_token", "revoke"]
