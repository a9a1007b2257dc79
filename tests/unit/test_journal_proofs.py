"""The journal's Merkle tree and proofs against published RFC 6962 vectors, and against a verifier
that shares no code with them (tests/independent_verifier.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.journal.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests import independent_verifier as ind

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "rfc6962_vectors.json").read_text())
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots"]]
TREE = MemoryTree(leaf_hash(x) for x in LEAVES)


def test_roots_of_every_prefix_match_the_published_vectors() -> None:
    assert ROOTS[0] == EMPTY_ROOT
    for size in range(len(LEAVES) + 1):
        assert TREE.root(size) == ROOTS[size], size
        frontier = Frontier()
        frontier.extend(leaf_hash(x) for x in LEAVES[:size])
        assert frontier.root() == ROOTS[size]
        assert TREE.frontier(size).hashes == frontier.hashes


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"leaf{v['leaf']}-of-{v['size']}")
def test_inclusion_proofs_match_the_published_vectors(vector: dict) -> None:  # type: ignore[type-arg]
    index, size = vector["leaf"] - 1, vector["size"]
    expected = [bytes.fromhex(h) for h in vector["proof"]]
    assert TREE.inclusion_proof(index, size) == expected
    verify_inclusion(index, size, leaf_hash(LEAVES[index]), expected, ROOTS[size])
    assert ind.inclusion_ok(index, size, ind.h_leaf(LEAVES[index]), expected, ROOTS[size])


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['size1']}-to-{v['size2']}")
def test_consistency_proofs_match_the_published_vectors(vector: dict) -> None:  # type: ignore[type-arg]
    m, n = vector["size1"], vector["size2"]
    expected = [bytes.fromhex(h) for h in vector["proof"]]
    assert TREE.consistency_proof(m, n) == expected
    verify_consistency(m, n, ROOTS[m], ROOTS[n], expected)
    assert ind.consistency_ok(m, n, expected, ROOTS[m], ROOTS[n])


def test_every_proof_of_trees_up_to_70_leaves_passes_the_independent_verifier() -> None:
    tree = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(70))
    for n in range(1, 71):
        root = tree.root(n)
        for m in range(n):
            assert ind.inclusion_ok(m, n, tree.leaf(m), tree.inclusion_proof(m, n), root), (m, n)
        for m in range(n + 1):
            assert ind.consistency_ok(m, n, tree.consistency_proof(m, n), tree.root(m), root), (m, n)


def test_corrupted_proofs_are_refused_by_both_verifiers() -> None:
    tree = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(13))
    proof = tree.inclusion_proof(5, 13)
    root = tree.root(13)
    bad = [bytes([proof[0][0] ^ 8]) + proof[0][1:], *proof[1:]]
    for args in [(5, 13, tree.leaf(5), bad), (4, 13, tree.leaf(5), proof), (5, 13, tree.leaf(5), proof[:-1]),
                 (5, 13, tree.leaf(5), [*proof, root]), (5, 26, tree.leaf(5), proof)]:
        with pytest.raises(ProofError):
            verify_inclusion(*args, root)  # type: ignore[arg-type]
        assert not ind.inclusion_ok(*args, root)  # type: ignore[arg-type]
    cproof = tree.consistency_proof(6, 13)
    for m, n, p, r1, r2 in [(6, 13, cproof[:-1], tree.root(6), root), (7, 13, cproof, tree.root(6), root),
                            (6, 13, cproof, tree.root(5), root), (6, 13, [], tree.root(6), root)]:
        with pytest.raises(ProofError):
            verify_consistency(m, n, r1, r2, p)
        assert not ind.consistency_ok(m, n, p, r1, r2)
