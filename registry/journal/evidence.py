"""Journal evidence for a report: the signed checkpoint it was built on and an inclusion proof for
every event it cites, checkable offline with only the log's public key.

A report cites events by log position (its ``Log position`` input, the prefix it was built on, and
the ``position`` column of its tables, e.g. the custody trail). ``gpureg report evidence`` writes,
next to a report file, a JSON document:

    {"format": "gpureg-report-evidence/1",
     "report_sha256": "<hex SHA-256 of the report file's bytes>",
     "log_position": <the report's Log position>,
     "checkpoint": "<signed note, with cosignatures>",
     "events": [{"position", "leaf_index", "originator_id" (hex), "originator_version", "topic",
                 "state" (base64), "leaf_hash" (base64), "proof": [base64, ...]}, ...]}

``gpureg report verify FILE --evidence E --public-key K`` then checks, without the store: the file's
hash, the checkpoint's signature, that the checkpoint covers the report's log position, and for
each cited event that its stored bytes give its leaf hash and its proof leads to the signed root.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from registry.journal.leaf import event_leaf_hash
from registry.journal.merkle import ProofError, verify_inclusion
from registry.journal.note import NoteError, SignedCheckpoint, Verifier
from registry.journal.service import Journal, JournalError

FORMAT = "gpureg-report-evidence/1"


def cited_positions(report: Any) -> tuple[int, list[int]]:
    """The report's log position and every position its tables cite (a ``position`` column)."""
    from registry.reports.model import Section, Table

    cited: set[int] = set()

    def rows_of(table: Table) -> Iterable[Sequence[Any]]:
        rows = table.rows
        return rows() if callable(rows) else rows

    def walk(blocks: Any) -> None:
        for block in blocks() if callable(blocks) else blocks:
            if isinstance(block, Section):
                walk(block.blocks)
            elif isinstance(block, Table):
                keys = [c.key for c in block.columns]
                if "position" in keys:
                    i = keys.index("position")
                    cited.update(int(row[i]) for row in rows_of(block) if isinstance(row[i], int))

    walk(report.sections)
    log_position = int(report.request.get("Log position") or 0)
    return log_position, sorted(cited)


def build(journal: Journal, report_bytes: bytes, log_position: int, positions: Sequence[int]) -> dict[str, Any]:
    """Evidence for a report file (its bytes) citing ``positions``, on the latest checkpoint
    (signed now if the tree grew and a key is configured)."""
    if journal.signer is not None:
        journal.checkpoint()
    latest = journal.latest_checkpoint()
    if latest is None:
        raise JournalError("no signed checkpoint yet: sign one (`gpureg journal checkpoint`)")
    note, size = latest
    journal.sync()
    covered = journal.positions[size - 1] if size else 0
    if log_position > covered:
        raise JournalError(f"the latest checkpoint (size {size}) does not reach the report's log position "
                           f"{log_position}: sign a newer one")
    events = []
    with journal.cursor() as cur:
        for position in positions:
            proof = journal.inclusion_proof(position, size)
            rows = journal.tables.read_events(cur, position - 1, 1)
            if not rows or rows[0].position != position:
                raise JournalError(f"position {position}: no such event")
            ev = rows[0]
            events.append({
                "position": position, "leaf_index": proof.leaf_index, "originator_id": ev.originator_id.hex(),
                "originator_version": ev.version, "topic": ev.topic, "state": base64.b64encode(ev.state).decode(),
                "leaf_hash": base64.b64encode(proof.leaf_hash).decode(),
                "proof": [base64.b64encode(h).decode() for h in proof.hashes],
            })
    return {"format": FORMAT, "report_sha256": hashlib.sha256(report_bytes).hexdigest(),
            "log_position": log_position, "checkpoint": note, "events": events}


def check(evidence: dict[str, Any], report_bytes: bytes, keys: Sequence[Verifier]) -> list[str]:
    """What is wrong with ``evidence`` for this report file (empty: every cited event is proven
    to be in the signed log, with the bytes given)."""
    problems: list[str] = []
    if evidence.get("format") != FORMAT:
        return [f"not report evidence (format {evidence.get('format')!r})"]
    if evidence.get("report_sha256") != hashlib.sha256(report_bytes).hexdigest():
        problems.append("the evidence is for another file: the report's SHA-256 differs")
    try:
        cp = SignedCheckpoint.open(str(evidence["checkpoint"]), keys).checkpoint
    except (NoteError, KeyError) as e:
        return [*problems, f"checkpoint: {e}"]
    for entry in evidence.get("events", []):
        where = f"position {entry.get('position')}"
        try:
            leaf = event_leaf_hash(
                int(entry["position"]), bytes.fromhex(entry["originator_id"]), int(entry["originator_version"]),
                str(entry["topic"]), base64.b64decode(entry["state"], validate=True))
            if leaf != base64.b64decode(entry["leaf_hash"]):
                problems.append(f"{where}: the event's bytes do not give its leaf hash")
                continue
            proof = [base64.b64decode(h) for h in entry["proof"]]
            verify_inclusion(int(entry["leaf_index"]), cp.size, leaf, proof, cp.root)
        except ProofError as err:
            problems.append(f"{where}: not in the signed log of size {cp.size} ({err})")
        except (KeyError, ValueError, TypeError) as err:
            problems.append(f"{where}: malformed ({err})")
    return problems
