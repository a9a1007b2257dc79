"""RFC 6962 / RFC 9162 (section 2.1) Merkle tree hashing, proofs and proof verification.

* leaf hash ``SHA-256(0x00 || data)``, interior node ``SHA-256(0x01 || left || right)``;
* ``MTH(D[n])`` splits at ``k``, the largest power of two smaller than ``n``;
* the empty tree's hash is ``SHA-256("")``.

:class:`Frontier` is the compact state that extends a tree (one hash per set bit of its size, the
perfect subtrees from the left); :class:`MemoryTree` keeps every complete subtree's hash so that
inclusion (RFC 9162 2.1.3.1) and consistency (2.1.4.1) proofs cost O(log n) hashes each.
The verifiers follow RFC 9162 2.1.3.2 and 2.1.4.2 step by step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not verify (the message says which step failed)."""


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The ``k`` of RFC 9162: the largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The perfect subtrees that make up a tree of ``size`` leaves, largest (leftmost) first."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a frontier of size {size} has {bin(size).count('1')} hashes, not {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        h = leaf
        k = self.size
        hashes = self.hashes
        while k & 1:
            h = node_hash(hashes.pop(), h)
            k >>= 1
        hashes.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        hashes = self.hashes
        r = hashes[-1]
        for h in reversed(hashes[:-1]):
            r = node_hash(h, r)
        return r

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        if len(blob) % HASH_SIZE:
            raise ValueError("a frontier is a whole number of 32-byte hashes")
        return cls(size, [blob[i: i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)])

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)


def root_of(leaves: Iterable[bytes]) -> bytes:
    f = Frontier()
    f.extend(leaves)
    return f.root()


class MemoryTree:
    """Every leaf hash and every complete perfect subtree hash of an append-only tree."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        levels = self.levels
        level = 0
        levels[0].append(leaf)
        while len(levels[level]) % 2 == 0:
            row = levels[level]
            h = node_hash(row[-2], row[-1])
            level += 1
            if level == len(levels):
                levels.append([])
            levels[level].append(h)

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index]

    def _mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]); lo is always aligned to the largest power of two the recursion asks for."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:  # a perfect subtree: stored
            return self.levels[n.bit_length() - 1][lo // n]
        k = largest_power_of_two_below(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return self._mth(0, size)

    def frontier(self, size: int | None = None) -> Frontier:
        """The compact state of the first ``size`` leaves."""
        size = self.size if size is None else size
        self._check_size(size)
        hashes = []
        lo = 0
        for bit in reversed(range(size.bit_length())):
            width = 1 << bit
            if size & width:
                hashes.append(self.levels[bit][lo // width])
                lo += width
        return Frontier(size, hashes)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(m, D[n]) of RFC 9162 2.1.3.1."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not in a tree of size {size}")
        proof: list[bytes] = []
        lo, hi, m = 0, size, index
        while hi - lo > 1:
            k = largest_power_of_two_below(hi - lo)
            if m < k:
                proof.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._mth(lo, lo + k))
                lo += k
                m -= k
        proof.reverse()
        return proof

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(m, D[n]) of RFC 9162 2.1.4.1 (empty when first is 0 or equals second)."""
        self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"tree size {first} is not between 0 and {second}")
        if first in (0, second):
            return []
        proof: list[bytes] = []
        lo, hi, m, whole = 0, second, first, True
        while True:
            n = hi - lo
            if m == n:
                if not whole:
                    proof.append(self._mth(lo, hi))
                break
            k = largest_power_of_two_below(n)
            if m <= k:
                proof.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._mth(lo, lo + k))
                lo += k
                m -= k
                whole = False
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is beyond the {self.size} leaves known")


def _shift_until_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    while fn & 1 == 0 and fn != 0:
        fn >>= 1
        sn >>= 1
    return fn, sn


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2, returning the root the proof leads to (raises ProofError if malformed)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if len(p) != HASH_SIZE:
            raise ProofError("a proof hash is not 32 bytes")
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with that root hash")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2: the tree of ``second`` leaves extends the tree of ``first`` leaves."""
    if not 0 <= first <= second:
        raise ProofError(f"tree size {first} is larger than {second}: a tree never shrinks")
    if first == second:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError(f"two different root hashes for tree size {first}")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("an empty consistency proof between different sizes")
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a proof hash is not 32 bytes")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than needed")
    if fr != first_root:
        raise ProofError(f"the proof does not lead to the root hash of tree size {first}")
    if sr != second_root:
        raise ProofError(f"the proof does not lead to the root hash of tree size {second}")
