"""Signed notes and checkpoints in the C2SP format: the Go reference vector byte for byte, and the
registry's own checkpoints read back by an independent parser with a second Ed25519 library."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from registry.journal.merkle import MemoryTree, leaf_hash
from registry.journal.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteError,
    SignedCheckpoint,
    Signer,
    Verifier,
    sign_checkpoint,
)
from tests import independent_verifier as ind

GO = json.loads((Path(__file__).parent.parent / "data" / "rfc6962_vectors.json").read_text())["signed_note"]


def test_the_go_reference_key_signs_the_reference_note_to_the_same_bytes() -> None:
    signer = Signer.parse_private(GO["private_key"])
    assert signer.verifier.encode() == GO["verifier_key"]
    assert signer.sign_line(GO["text"]) == GO["signature_line"]


def test_the_go_reference_note_verifies_and_a_changed_byte_does_not() -> None:
    key = Verifier.parse(GO["verifier_key"])
    note = Note.parse(GO["text"] + "\n" + GO["signature_line"])
    assert note.verified_by(key).name == "PeterNeumann"
    tampered = Note.parse(GO["text"].replace("answer", "answex") + "\n" + GO["signature_line"])
    with pytest.raises(NoteError, match="does not verify"):
        tampered.verified_by(key)


def test_a_checkpoint_the_registry_signs_parses_and_verifies_independently() -> None:
    signer = Signer.generate("registry.test/gpureg")
    tree = MemoryTree(leaf_hash(bytes([i])) for i in range(11))
    note = sign_checkpoint(signer, Checkpoint("registry.test/gpureg", 11, tree.root()))
    text = ind.note_signed_by(note, signer.verifier.encode())
    assert ind.parse_checkpoint(text) == ("registry.test/gpureg", 11, tree.root())
    assert note.startswith(f"registry.test/gpureg\n11\n{base64.b64encode(tree.root()).decode()}\n\n\u2014 ")
    assert SignedCheckpoint.open(note, [signer.verifier]).checkpoint.size == 11


def test_a_checkpoint_signed_with_a_rotated_out_key_still_verifies_with_that_key() -> None:
    old, new = Signer.generate("registry.test/gpureg"), Signer.generate("registry.test/gpureg")
    old_note = sign_checkpoint(old, Checkpoint("registry.test/gpureg", 1, leaf_hash(b"x")))
    assert SignedCheckpoint.open(old_note, [new.verifier, old.verifier]).checkpoint.size == 1
    with pytest.raises(NoteError):
        SignedCheckpoint.open(old_note, [new.verifier])


def test_a_witness_cosignature_is_a_cosignature_v1_line_a_second_library_verifies() -> None:
    log = Signer.generate("registry.test/gpureg")
    witness = Signer.generate("witness.test/w1", ALG_COSIGNATURE_V1)
    note = sign_checkpoint(log, Checkpoint("registry.test/gpureg", 3, leaf_hash(b"y")))
    text = Note.parse(note).text
    cosigned = note + witness.cosign_line(text, int(time.time()))
    ind.note_signed_by(cosigned, witness.verifier.encode())
    Note.parse(cosigned).verified_by(witness.verifier)
    assert ind.parse_vkey(witness.verifier.encode())[2] == 0x04  # the cosignature/v1 key type


@pytest.mark.parametrize("bad", ["", "origin\n", "origin\n01\nAAAA\n", "origin\n1\nnot base64!\n"])
def test_malformed_checkpoints_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse_text(bad)
