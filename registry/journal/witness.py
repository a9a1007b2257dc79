"""``gpureg journal witness``: a partner's or the ministry's own check that the registry's log only
ever grows.

Each round it fetches the latest checkpoint, verifies the log's signature, and checks it against
the last checkpoint it accepted (its state file): the same size must have the same root, a larger
size must come with a consistency proof (RFC 9162 2.1.4) that verifies from the accepted root to
the new one, and a smaller size is a rollback. If all holds it cosigns the checkpoint
(c2sp.org/tlog-cosignature, cosignature/v1), hands the cosignature back to the registry and
stores the checkpoint as its new state. If not, it raises an ALARM: a CRITICAL log record, the
evidence appended to the state file, and exit code 3; it never accepts anything from that
registry again until an operator looks (the state keeps the last good checkpoint).

The first checkpoint is accepted on trust (trust on first use); give ``--state`` a copy of a
checkpoint obtained out of band to start from that instead.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from registry.api.v1 import journal_pb2 as pb
from registry.api.v1 import journal_pb2_grpc
from registry.journal.merkle import ProofError, verify_consistency
from registry.journal.note import NoteError, SignedCheckpoint, Signer, Verifier

log = logging.getLogger("gpureg.witness")

EXIT_OK, EXIT_ERROR, EXIT_ALARM = 0, 1, 3


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    alarm: bool
    size: int
    message: str


class Witness:
    def __init__(self, stub: Any, log_keys: list[Verifier], signer: Signer, state_path: Path) -> None:
        self.stub = stub
        self.log_keys = log_keys
        self.signer = signer
        self.state_path = state_path

    def state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return data

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _alarm(self, state: dict[str, Any], what: str, note: str) -> Outcome:
        log.critical("WITNESS ALARM: %s", what, extra={"alarm": True, "checkpoint": note})
        state.setdefault("alarms", []).append({"at": int(time.time()), "what": what, "checkpoint": note})
        self._save(state)
        return Outcome(False, True, state.get("size", 0), what)

    def check_once(self, timeout: float = 30) -> Outcome:
        state = self.state()
        if state.get("alarms"):
            return Outcome(False, True, state.get("size", 0), "an earlier alarm is unresolved: " +
                           state["alarms"][-1]["what"])
        response = self.stub.GetCheckpoint(pb.GetCheckpointRequest(), timeout=timeout)
        try:
            signed = SignedCheckpoint.open(response.note, self.log_keys)
        except NoteError as e:
            return self._alarm(state, f"the checkpoint is not signed by the log key: {e}", response.note)
        cp = signed.checkpoint
        if "size" in state:
            old_size, old_root = int(state["size"]), base64.b64decode(state["root"])
            if cp.origin != state.get("origin", cp.origin):
                return self._alarm(state, f"origin changed from {state['origin']!r} to {cp.origin!r}", response.note)
            if cp.size < old_size:
                return self._alarm(state, f"rollback: tree size {cp.size} is smaller than the accepted {old_size}",
                                   response.note)
            if cp.size == old_size and cp.root != old_root:
                return self._alarm(state, f"fork: two different roots for tree size {cp.size}", response.note)
            if cp.size > old_size:
                proof = self.stub.GetConsistencyProof(
                    pb.GetConsistencyProofRequest(first_size=old_size, second_size=cp.size), timeout=timeout)
                try:
                    verify_consistency(old_size, cp.size, old_root, cp.root, list(proof.hashes))
                except ProofError as e:
                    return self._alarm(
                        state, f"fork or rewrite: tree size {cp.size} is not an extension of the accepted "
                               f"size {old_size} ({e})", response.note)
        text = signed.note.text
        line = self.signer.cosign_line(text, int(time.time()))
        try:
            self.stub.AddCosignature(pb.AddCosignatureRequest(note=text + "\n" + line), timeout=timeout)
        except grpc.RpcError as e:  # the registry may not list this witness: the state still advances
            log.warning("the registry did not take the cosignature: %s", e.details() if hasattr(e, "details") else e)
        self._save({"origin": cp.origin, "size": cp.size, "root": base64.b64encode(cp.root).decode(),
                    "checkpoint": response.note, "cosignature": line})
        log.info("witnessed %s at size %d", cp.origin, cp.size)
        return Outcome(True, False, cp.size, f"accepted size {cp.size}")


def run(target: str, log_keys: list[Verifier], signer: Signer, state_path: Path, *, once: bool,
        interval: float) -> int:
    """The witness loop (``gpureg journal witness``); returns the process exit code."""
    with grpc.insecure_channel(target) as channel:
        stub = journal_pb2_grpc.JournalServiceStub(channel)  # type: ignore[no-untyped-call]
        witness = Witness(stub, log_keys, signer, state_path)
        while True:
            try:
                outcome = witness.check_once()
            except grpc.RpcError as e:
                log.error("cannot fetch the checkpoint from %s: %s", target, e)
                if once:
                    return EXIT_ERROR
            else:
                if outcome.alarm:
                    return EXIT_ALARM
                if once:
                    return EXIT_OK
            time.sleep(interval)
