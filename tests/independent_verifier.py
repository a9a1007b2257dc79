"""A second, independent verifier for the journal's proofs and notes, sharing no code with
registry/journal: the RFC 6962 proofs checked the way transparency-dev/merkle decomposes them
(inner and border parts of the path, by bit arithmetic), not RFC 9162's loop the producer's own
verifier uses; signatures checked with PyNaCl (libsodium), not the `cryptography` package the
registry signs with; the note and checkpoint parsed from their C2SP text here."""

from __future__ import annotations

import base64
import hashlib
import struct
from uuid import UUID

import nacl.exceptions
import nacl.signing


def h_leaf(data: bytes) -> bytes:
    return hashlib.sha256(bytes([0]) + data).digest()


def h_node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(bytes([1]) + a + b).digest()


def _inner_border(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: list[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = h_node(h, seed) if (index >> i) & 1 else h_node(seed, h)
    return seed


def _chain_inner_right(seed: bytes, proof: list[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = h_node(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: list[bytes]) -> bytes:
    for h in proof:
        seed = h_node(h, seed)
    return seed


def inclusion_ok(index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes) -> bool:
    if index >= size:
        return False
    inner, border = _inner_border(index, size)
    if len(proof) != inner + border:
        return False
    r = _chain_inner(leaf_hash, proof[:inner], index)
    r = _chain_border_right(r, proof[inner:])
    return r == root


def consistency_ok(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> bool:
    if size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    inner, border = _inner_border(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros
    inner -= shift
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        return False
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    h1 = _chain_inner_right(seed, rest[:inner], mask)
    h1 = _chain_border_right(h1, rest[inner:])
    if h1 != root1:
        return False
    h2 = _chain_inner(seed, rest[:inner], mask)
    h2 = _chain_border_right(h2, rest[inner:])
    return h2 == root2


def leaf_bytes(position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """docs/journal.md, "Leaf data", written out again here."""
    t = topic.encode()
    return (bytes([1]) + position.to_bytes(8, "big") + originator_id.bytes + version.to_bytes(8, "big")
            + len(t).to_bytes(4, "big") + t + len(state).to_bytes(4, "big") + state)


def parse_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    name, hexid, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] == bytes.fromhex(hexid)
    return name, bytes.fromhex(hexid), raw[0], raw[1:]


def note_signed_by(message: str, vkey: str) -> str:
    """The note's text if ``vkey`` signed it (C2SP signed-note); raises AssertionError otherwise."""
    name, key_id, alg, public = parse_vkey(vkey)
    text, _, sigs = message.rpartition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        dash, signer, b64 = line.split(" ")
        assert dash == "\u2014"
        blob = base64.b64decode(b64)
        if signer != name or blob[:4] != key_id:
            continue
        verify_key = nacl.signing.VerifyKey(public)
        try:
            if alg == 1:
                verify_key.verify(text.encode(), blob[4:])
            else:
                (ts,) = struct.unpack(">Q", blob[4:12])
                verify_key.verify(f"cosignature/v1\ntime {ts}\n".encode() + text.encode(), blob[12:])
        except nacl.exceptions.BadSignatureError as e:
            raise AssertionError(f"bad signature of {name}") from e
        return text
    raise AssertionError(f"no signature of {name}")


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    origin, size, root, *_ = text.split("\n")
    return origin, int(size), base64.b64decode(root)
