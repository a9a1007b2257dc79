"""``gpureg journal verify``: recompute every leaf and root of a journal and check it against its
events, its head and its signed checkpoints. Works the same on a live store and on an exported
journal file (only the log's public key needed).

The walk pairs events and leaves by position, in order, and stops at the FIRST problem, naming
its position and what is wrong there:

* an event whose bytes (state, topic, version, id) or position no longer give its leaf hash;
* a leaf whose event is gone (deleted, moved to another position, truncated);
* an event without a leaf (inserted, or appended by something other than the registry);
* a leaf index out of sequence; a head (size, frontier) that is not the tree of the leaves;
* a signed checkpoint whose root is not the tree's root at its size (history before it rewritten,
  even with every leaf recomputed), whose signature does not verify, or that covers more leaves
  than the store has (truncation);
* events after the last signed checkpoint (an append nobody signed: forged, or not yet
  checkpointed), unless the caller allows an unsigned tail.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import sha256

from registry.journal.leaf import event_leaf_hash
from registry.journal.merkle import Frontier
from registry.journal.note import Checkpoint, Note, NoteError, SignedCheckpoint, Verifier
from registry.journal.tables import EventRow


@dataclass(frozen=True)
class Problem:
    position: int | None  # the first bad position (None if the problem has no position)
    leaf_index: int | None
    what: str

    def __str__(self) -> str:
        where = f"position {self.position}" if self.position is not None else "journal"
        if self.leaf_index is not None:
            where += f" (leaf {self.leaf_index})"
        return f"{where}: {self.what}"


@dataclass
class Report:
    events: int = 0
    size: int = 0
    root: bytes = b""
    signed_size: int = 0  # the largest tree size a verified checkpoint covers
    checkpoints: int = 0
    seconds: float = 0.0
    problem: Problem | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Stop(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def verify(
    events: Iterable[EventRow],
    leaves: Iterable[tuple[int, int, bytes]],
    *,
    head: Frontier | None,
    checkpoints: Sequence[str],
    keys: Sequence[Verifier],
    prefix: Frontier | None = None,
    allow_unsigned_tail: bool = False,
) -> Report:
    """Verify a journal. ``leaves`` are (leaf index, position, leaf hash) in index order,
    ``events`` in position order, ``head`` the stored head (None: not checked), ``checkpoints``
    signed notes, ``prefix`` the compact tree before the first leaf (a partial export)."""
    started = time.perf_counter()
    report = Report()
    try:
        _walk(report, iter(events), iter(leaves), head, checkpoints, keys, prefix, allow_unsigned_tail)
    except _Stop as stop:
        report.problem = stop.problem
    report.seconds = time.perf_counter() - started
    return report


def _open_checkpoints(checkpoints: Sequence[str], keys: Sequence[Verifier]) -> dict[int, bytes]:
    roots: dict[int, bytes] = {}
    for note in checkpoints:
        try:
            # Without keys only the roots are compared (a structural check, e.g. before a rebuild).
            cp = SignedCheckpoint.open(note, keys).checkpoint if keys else Checkpoint.parse_text(Note.parse(note).text)
        except NoteError as e:
            first = note.split("\n", 2)
            size = first[1] if len(first) > 1 else "?"
            raise _Stop(Problem(None, None, f"checkpoint of size {size}: {e}")) from None
        if roots.get(cp.size, cp.root) != cp.root:
            raise _Stop(Problem(None, None, f"two signed checkpoints of size {cp.size} with different roots (a fork)"))
        roots[cp.size] = cp.root
    return roots


def _walk(
    report: Report,
    events: Iterator[EventRow],
    leaves: Iterator[tuple[int, int, bytes]],
    head: Frontier | None,
    checkpoints: Sequence[str],
    keys: Sequence[Verifier],
    prefix: Frontier | None,
    allow_unsigned_tail: bool,
) -> None:
    roots = _open_checkpoints(checkpoints, keys)
    report.checkpoints = len(roots)
    tree = prefix.copy() if prefix is not None else Frontier()
    start_size = tree.size
    pending = sorted(s for s in roots if s > start_size)
    if start_size in roots and tree.root() != roots[start_size]:
        raise _Stop(Problem(None, start_size, "the export's prefix does not match the signed checkpoint of its size"))
    next_cp = pending[0] if pending else -1
    last_good = start_size
    last_position = 0
    boundary: int | None = None  # the position of leaf ``last_good``: the first not yet proven by a checkpoint
    ev = next(events, None)
    lf = next(leaves, None)
    hashes_pop, hashes_append = tree.hashes.pop, tree.hashes.append  # Frontier.append, inlined: the hot loop
    count = 0
    while ev is not None or lf is not None:
        if lf is None:
            assert ev is not None
            raise _Stop(Problem(ev.position, None,
                                "event has no leaf in the journal: inserted or appended outside the registry"))
        index, position, stored = lf
        if index != tree.size:
            raise _Stop(Problem(position, index, f"leaf index out of sequence (expected leaf {tree.size})"))
        if position <= last_position:
            raise _Stop(Problem(position, index, f"leaf position not after the previous one ({last_position})"))
        if ev is None:
            raise _Stop(Problem(position, index, "the event recorded here is missing: deleted or truncated"))
        if ev.position < position:
            raise _Stop(Problem(ev.position, None,
                                f"event has no leaf in the journal (leaf {index} records position {position}): "
                                "inserted, or moved here from another position"))
        if ev.position > position:
            raise _Stop(Problem(position, index,
                                f"the event recorded here is missing (the next event is at {ev.position}): "
                                "deleted, or moved to another position"))
        try:
            recomputed = ev.leaf or event_leaf_hash(position, ev.originator_id, ev.version, ev.topic, ev.state)
        except (TypeError, ValueError, OverflowError, struct.error) as e:
            raise _Stop(Problem(position, index, f"the stored event is malformed ({e})")) from None
        if recomputed != stored:
            raise _Stop(Problem(position, index,
                                "the stored event (state, topic, version or aggregate id) is not the one "
                                "recorded here: changed bytes, or events reordered"))
        if index == last_good:
            boundary = position
        h, k = stored, tree.size
        while k & 1:
            h = sha256(b"\x01" + hashes_pop() + h).digest()
            k >>= 1
        hashes_append(h)
        tree.size += 1
        count += 1
        last_position = position
        if tree.size == next_cp:
            if tree.root() != roots[next_cp]:
                raise _Stop(Problem(boundary, last_good,
                                    f"the tree of size {next_cp} is not the one signed in its checkpoint: "
                                    f"history after leaf {last_good - 1} and up to leaf {next_cp - 1} was rewritten"))
            last_good = next_cp
            report.signed_size = next_cp
            pending.pop(0)
            next_cp = pending[0] if pending else -1
        ev = next(events, None)
        lf = next(leaves, None)
    report.events = count
    report.size = tree.size
    report.root = tree.root()
    if pending:
        raise _Stop(Problem(last_position + 1 if tree.size else None, tree.size,
                            f"a signed checkpoint covers {pending[-1]} leaves but the journal has {tree.size}: "
                            f"leaves from {tree.size} on were truncated"))
    if head is not None:
        if head.size != tree.size:
            raise _Stop(Problem(last_position + 1 if head.size > tree.size else None, tree.size,
                                f"the journal head says {head.size} leaves but {tree.size} are stored: "
                                + ("leaves were deleted (truncated)" if head.size > tree.size else
                                   "leaves were added without moving the head")))
        if head.hashes != tree.hashes:
            raise _Stop(Problem(None, None, "the journal head's frontier is not the tree of the stored leaves"))
    if report.signed_size < tree.size and not (report.signed_size == 0 and tree.size == 0):
        what = (f"{tree.size - report.signed_size} event(s) after tree size {report.signed_size} are not covered by "
                "any signed checkpoint: a forged append, or events since the last checkpoint")
        if not allow_unsigned_tail:
            raise _Stop(Problem(boundary, report.signed_size, what))
        report.warnings.append(what)


def verify_export(lines: Iterable[str], keys: Sequence[Verifier], *, extra_checkpoints: Sequence[str] = (),
                  allow_unsigned_tail: bool = False) -> Report:
    """Verify an exported journal file (JSON lines: a header, then one record per event)
    offline, with only the log's public key(s)."""
    import base64
    import binascii
    import json

    it = iter(lines)
    try:
        header = json.loads(next(it))
        if header.get("format") != "gpureg-journal/1":
            raise ValueError(f"unknown format {header.get('format')!r}")
        start = int(header["start_index"])
        prefix = Frontier(start, [base64.b64decode(h) for h in header["prefix"]])
        checkpoint = str(header.get("checkpoint") or "")
    except (StopIteration, ValueError, KeyError, TypeError, binascii.Error) as e:
        return Report(problem=Problem(None, None, f"not a journal export: bad header ({e})"))
    records: list[tuple[EventRow, tuple[int, int, bytes]]] = []
    for n, line in enumerate(it, start=2):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            ev = EventRow(int(r["position"]), bytes.fromhex(r["originator_id"]), int(r["originator_version"]),
                          str(r["topic"]), base64.b64decode(r["state"], validate=True))
            records.append((ev, (int(r["index"]), ev.position, base64.b64decode(r["leaf_hash"], validate=True))))
        except (ValueError, KeyError, TypeError, binascii.Error) as e:
            return Report(problem=Problem(None, None, f"line {n}: not a journal record ({e})"))
    return verify((e for e, _ in records), (lf for _, lf in records), head=None,
                  checkpoints=[c for c in (checkpoint, *extra_checkpoints) if c], keys=keys, prefix=prefix,
                  allow_unsigned_tail=allow_unsigned_tail)
