"""C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and
cosignatures (c2sp.org/tlog-cosignature, cosignature/v1), with Ed25519 keys.

* a note is UTF-8 text ending in a newline, a blank line, then signature lines
  ``— <key name> <base64(4-byte key ID || signature)>`` (U+2014, a space, the name, a space);
* an Ed25519 note key's ID is ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` and its
  signature is over the note text; a cosignature key's ID uses 0x04 instead, and its signature
  (``uint64 timestamp || Ed25519 signature``) is over ``"cosignature/v1\\ntime <t>\\n" || text``;
* a verifier key is ``<name>+<hex key ID>+<base64(type || public key)>`` and a private key file
  holds ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || 32-byte seed)>`` (the Go
  golang.org/x/mod/sumdb/note encoding);
* a checkpoint's text is ``<origin>\\n<decimal size>\\n<base64 root hash>\\n`` then optional
  extension lines.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
DASH = "\u2014"


class NoteError(ValueError):
    """A malformed note, checkpoint, key, or a signature that does not verify."""


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"key name {name!r}: must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Verifier:
    name: str
    alg: int
    public_key: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.alg, self.public_key)

    def encode(self) -> str:
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(bytes([self.alg]) + self.public_key).decode()}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # base64 may hold '+', a name may not
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<hex key id>+<base64 key>")
        name, hexid, b64 = parts
        _check_name(name)
        try:
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hexid)
        except (binascii.Error, ValueError) as e:
            raise NoteError(f"verifier key {name}: bad encoding ({e})") from None
        if len(hexid) != 8 or len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError(f"verifier key {name}: not an Ed25519 (0x01) or cosignature (0x04) key")
        v = cls(name, raw[0], raw[1:])
        if v.id != kid:
            raise NoteError(f"verifier key {name}: key id {hexid} does not match the key")
        return v

    def verify_signature(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """An Ed25519 note key (alg 0x01) or witness cosignature key (alg 0x04). Never printed."""

    def __init__(self, name: str, seed: bytes, alg: int = ALG_ED25519) -> None:
        _check_name(name)
        if len(seed) != 32:
            raise NoteError("an Ed25519 private key is a 32-byte seed")
        self.name = name
        self.alg = alg
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, alg, public)

    def __repr__(self) -> str:  # no key material in logs or tracebacks
        return f"Signer({self.verifier.encode()})"

    @classmethod
    def generate(cls, name: str, alg: int = ALG_ED25519) -> Signer:
        return cls(name, os.urandom(32), alg)

    def encode_private(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        b64 = base64.b64encode(bytes([self.alg]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{b64}"

    @classmethod
    def parse_private(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a private key is PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except binascii.Error:
            raise NoteError("private key: bad base64") from None
        if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError("private key: not an Ed25519 key")
        signer = cls(parts[2], raw[1:], raw[0])
        if signer.verifier.id.hex() != parts[3]:
            raise NoteError("private key: key id does not match the key")
        return signer

    @classmethod
    def load(cls, path: str | Path) -> Signer:
        return cls.parse_private(Path(path).read_text(encoding="utf-8"))

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.encode_private() + "\n")

    def sign_line(self, text: str) -> str:
        """The note signature line (alg 0x01) over ``text``."""
        sig = self._key.sign(text.encode("utf-8"))
        return f"{DASH} {self.name} {base64.b64encode(self.verifier.id + sig).decode()}\n"

    def cosign_line(self, text: str, timestamp: int) -> str:
        """A cosignature/v1 line (alg 0x04) over a checkpoint's text at ``timestamp``."""
        sig = self._key.sign(cosigned_message(text, timestamp))
        blob = self.verifier.id + struct.pack(">Q", timestamp) + sig
        return f"{DASH} {self.name} {base64.b64encode(blob).decode()}\n"


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    blob: bytes  # after the key id
    line: str


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    @classmethod
    def parse(cls, message: str) -> Note:
        if not message.endswith("\n"):
            raise NoteError("a signed note ends with a newline")
        split = message.rfind("\n\n")
        if split < 0:
            raise NoteError("a signed note has a blank line between its text and its signatures")
        text, rest = message[: split + 1], message[split + 2:]
        if any((ord(c) < 0x20 and c != "\n") for c in text):
            raise NoteError("a note's text has no control characters but newlines")
        sigs = []
        for line in rest.splitlines():
            if not line.startswith(DASH + " "):
                raise NoteError(f"signature line {line[:40]!r} does not start with '{DASH} '")
            try:
                name, b64 = line[2:].split(" ")
                blob = base64.b64decode(b64, validate=True)
            except (ValueError, binascii.Error):
                raise NoteError(f"malformed signature line {line[:40]!r}") from None
            _check_name(name)
            if len(blob) < 5:
                raise NoteError(f"signature of {name} is too short")
            sigs.append(Signature(name, blob[:4], blob[4:], line + "\n"))
        if not sigs:
            raise NoteError("a signed note has at least one signature")
        return cls(text, tuple(sigs))

    def verified_by(self, verifier: Verifier) -> Signature:
        """The signature ``verifier`` made, verified (NoteError if there is none or it is bad)."""
        for s in self.signatures:
            if s.name != verifier.name or s.key_id != verifier.id:
                continue
            if verifier.alg == ALG_ED25519:
                ok = verifier.verify_signature(self.text.encode("utf-8"), s.blob)
            else:
                if len(s.blob) != 72:
                    raise NoteError(f"cosignature of {s.name}: not timestamp + Ed25519 signature")
                (ts,) = struct.unpack(">Q", s.blob[:8])
                ok = verifier.verify_signature(cosigned_message(self.text, ts), s.blob[8:])
            if not ok:
                raise NoteError(f"the signature of {verifier.name} ({verifier.id.hex()}) does not verify")
            return s
        raise NoteError(f"no signature of {verifier.name} ({verifier.id.hex()}) on the note")

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line for s in self.signatures)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root hash line, each ending in a newline")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin:
            raise NoteError("checkpoint origin line is empty")
        if not size.isdigit() or (size != "0" and size.startswith("0")) or not size.isascii():
            raise NoteError(f"checkpoint size {size!r}: a decimal without leading zeros")
        try:
            raw = base64.b64decode(root, validate=True)
        except binascii.Error:
            raise NoteError("checkpoint root hash: not base64") from None
        if len(raw) != 32:
            raise NoteError("checkpoint root hash: not 32 bytes")
        return cls(origin, int(size), raw, tuple(lines[3:-1]))


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: Note

    @classmethod
    def open(cls, message: str, log_keys: Sequence[Verifier]) -> SignedCheckpoint:
        """Parse and verify a checkpoint signed by one of ``log_keys`` (the current key and any
        rotated-out ones; NoteError otherwise)."""
        note = Note.parse(message)
        errors = []
        for key in log_keys:
            try:
                note.verified_by(key)
            except NoteError as e:
                errors.append(str(e))
                continue
            cp = Checkpoint.parse_text(note.text)
            if cp.origin != key.name:
                raise NoteError(f"checkpoint origin {cp.origin!r} is not the log key's name {key.name!r}")
            return cls(cp, note)
        raise NoteError("; ".join(errors) or "no log key given")


def sign_checkpoint(signer: Signer, checkpoint: Checkpoint) -> str:
    text = checkpoint.text()
    return text + "\n" + signer.sign_line(text)
