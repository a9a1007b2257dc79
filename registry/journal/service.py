"""The journal of one event store: its tree in memory, checkpoints, proofs, export, the start check.

One :class:`Journal` per process. Its in-memory :class:`MemoryTree` follows the ``journal_leaves``
table; every leaf it takes in is first recomputed from its event (:meth:`Journal.sync`), so the
server never signs or proves a leaf that does not match its event.
"""

from __future__ import annotations

import base64
import bisect
import logging
import queue
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import ApplicationRecorder

from registry.journal.leaf import event_leaf_hash
from registry.journal.merkle import Frontier, MemoryTree
from registry.journal.note import Checkpoint, Note, NoteError, SignedCheckpoint, Signer, Verifier, sign_checkpoint
from registry.journal.tables import BEFORE_ALL, EventRow, JournalTables
from registry.journal.verify import Report, verify

log = logging.getLogger("gpureg.journal")

EXPORT_FORMAT = "gpureg-journal/1"


class JournalError(Exception):
    """A journal request that cannot be answered (unknown position, size beyond the tree...)."""


@dataclass(frozen=True)
class InclusionProof:
    position: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]


def tables_of(recorder: ApplicationRecorder) -> JournalTables:
    tables = getattr(recorder, "journal", None)
    if not isinstance(tables, JournalTables):
        raise JournalError(f"{type(recorder).__name__} keeps no journal (use the registry's recorders)")
    return tables


class Journal:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        *,
        signer: Signer | None = None,
        log_keys: Sequence[Verifier] = (),
        witness_keys: Sequence[Verifier] = (),
    ) -> None:
        self.recorder = recorder
        self.tables = tables_of(recorder)
        self.signer = signer
        keys = list(log_keys)
        if signer is not None and signer.verifier not in keys:
            keys.insert(0, signer.verifier)
        self.log_keys = keys
        self.witness_keys = list(witness_keys)
        self.tree = MemoryTree()
        self.positions: list[int] = []
        self._lock = threading.RLock()

    # --- database access -------------------------------------------------------------------------

    @contextmanager
    def cursor(self, *, write: bool = False) -> Iterator[Any]:
        datastore: Any = getattr(self.recorder, "datastore")  # noqa: B009
        if self.tables.dialect == "sqlite":
            with datastore.transaction(commit=write) as cur:
                yield cur
        else:
            with datastore.get_connection() as conn:
                if write:
                    with conn.transaction(), conn.cursor() as cur:
                        yield cur
                else:
                    with conn.cursor() as cur:
                        yield cur

    def ensure(self) -> int:
        """Give a store from before the journal its leaves and head (``gpureg journal init``; also
        done by ``gpureg serve`` at start and by the first insert). Returns leaves written."""
        with self.cursor(write=True) as cur:
            if self.tables.dialect == "postgres":
                cur.execute(f"LOCK TABLE {self.tables.events} IN EXCLUSIVE MODE")
            if self.tables.read_head(cur) is not None:
                return 0
            frontier = self.tables._backfill_in(cur, below=None)
            log.info("journal initialised: %d existing events became leaves", frontier.size)
            return frontier.size

    # --- the in-memory tree ---------------------------------------------------------------------

    def sync(self) -> int:
        """Take in the leaves written since the last call, each checked against its event.
        Raises JournalError naming the position if one does not match."""
        with self._lock, self.cursor() as cur:
            size = self.tree.size
            after = self.positions[-1] if self.positions else BEFORE_ALL
            new_leaves = self.tables.read_leaves(cur, size, 10**9)
            if not new_leaves:
                return size
            events = self.tables.read_events(cur, after, len(new_leaves))
            for (index, position, stored), ev in zip(new_leaves, events + [None] * len(new_leaves), strict=False):
                problem = _leaf_problem(index, position, stored, ev, size)
                if problem:
                    raise JournalError(f"position {position} (leaf {index}): {problem}")
                self.tree.append(stored)
                self.positions.append(position)
                size += 1
            return size

    def index_of(self, position: int) -> int:
        i = bisect.bisect_left(self.positions, position)
        if i == len(self.positions) or self.positions[i] != position:
            raise JournalError(f"position {position} is not in the journal (head {self.tree.size} leaves)")
        return i

    # --- the start check ------------------------------------------------------------------------

    def check_tail(self, tail: int = 1000) -> str | None:
        """At start: the head is the tree of the stored leaves, the last ``tail`` leaves match
        their events, and every stored checkpoint is a root of this tree. Returns what is wrong."""
        with self._lock:
            try:
                with self._snapshot() as cur:  # one snapshot: another server's commit cannot look like a gap
                    head = self.tables.read_head(cur)
                    leaves = list(self.tables.iter_leaves(cur))
                    checkpoints = self.tables.read_checkpoints(cur)
                    start = max(0, len(leaves) - tail)
                    after = leaves[start - 1][1] if start else BEFORE_ALL
                    events = self.tables.read_events(cur, after, len(leaves) - start + 1)
                    count_after = len(events)
                tree = MemoryTree()
                for expected, (index, _position, stored) in enumerate(leaves):
                    if index != expected:
                        return f"leaf {expected}: leaf index out of sequence"
                    tree.append(stored)
                for offset, (index, position, stored) in enumerate(leaves[start:]):
                    ev = events[offset] if offset < len(events) else None
                    problem = _leaf_problem(index, position, stored, ev, index)
                    if problem:
                        return f"position {position} (leaf {index}): {problem}"
                if count_after > len(leaves) - start:
                    return f"position {events[-1].position}: event has no leaf in the journal"
                if head is None:
                    return None if not leaves else "the journal has leaves but no head"
                if head.size != tree.size or head.hashes != tree.frontier().hashes:
                    return f"the journal head ({head.size} leaves) is not the tree of the {tree.size} stored leaves"
                for size, root, note in checkpoints:
                    if size > tree.size:
                        return f"checkpoint {size} covers more leaves than the journal has ({tree.size}): truncated"
                    if tree.root(size) != root or (self.log_keys and not _signed_root_ok(note, self.log_keys, root)):
                        return f"the signed checkpoint of size {size} is not a root of this journal: history rewritten"
                self.tree = tree
                self.positions = [p for _, p, _ in leaves]
                return None
            except JournalError as e:
                return str(e)

    # --- checkpoints ----------------------------------------------------------------------------

    def latest_checkpoint(self) -> tuple[str, int] | None:
        """The latest signed checkpoint with its cosignatures appended, and its size."""
        with self.cursor() as cur:
            rows = self.tables.read_checkpoints(cur)
            if not rows:
                return None
            size, _root, note = rows[-1]
            cosigs = self.tables.read_cosignatures(cur, size)
        return note + "".join(cosigs), size

    def checkpoints(self) -> list[str]:
        with self.cursor() as cur:
            return [note for _, _, note in self.tables.read_checkpoints(cur)]

    def checkpoint(self) -> str | None:
        """Sign the current tree if it grew since the last checkpoint; returns the latest note."""
        if self.signer is None:
            raise JournalError("no journal signing key configured (GPUREG_JOURNAL_KEY_FILE)")
        with self._lock:
            size = self.sync()
            latest = self.latest_checkpoint()
            if latest is not None and latest[1] >= size:
                return latest[0]
            if size == 0:
                return None
            cp = Checkpoint(self.signer.name, size, self.tree.root(size))
            note = sign_checkpoint(self.signer, cp)
            with self.cursor(write=True) as cur:
                self.tables.insert_checkpoint(cur, size, cp.root, note, self.signer.verifier.id.hex(),
                                              datetime.now(UTC).isoformat())
            log.info("journal checkpoint signed: size %d", size)
            latest = self.latest_checkpoint()
            return latest[0] if latest else note

    def add_cosignature(self, message: str) -> str:
        """Store a witness's cosignature of a stored checkpoint; returns the witness name."""
        try:
            note = Note.parse(message)
            cp = Checkpoint.parse_text(note.text)
        except NoteError as e:
            raise JournalError(f"cosigned checkpoint: {e}") from None
        with self.cursor() as cur:
            stored = {size: n for size, _, n in self.tables.read_checkpoints(cur)}
        if cp.size not in stored or Note.parse(stored[cp.size]).text != note.text:
            raise JournalError(f"checkpoint of size {cp.size} is not one this registry signed")
        for key in self.witness_keys:
            try:
                sig = note.verified_by(key)
            except NoteError:
                continue
            with self.cursor(write=True) as cur:
                self.tables.insert_cosignature(cur, cp.size, key.name, sig.line, datetime.now(UTC).isoformat())
            return key.name
        raise JournalError("no cosignature on the note verifies with a configured witness key")

    # --- proofs ---------------------------------------------------------------------------------

    def _size(self, tree_size: int) -> int:
        size = self.sync()
        if tree_size == 0:
            return size
        if tree_size > size:
            raise JournalError(f"tree size {tree_size} is beyond the journal ({size} leaves)")
        return tree_size

    def inclusion_proof(self, position: int, tree_size: int = 0) -> InclusionProof:
        with self._lock:
            size = self._size(tree_size)
            index = self.index_of(position)
            if index >= size:
                raise JournalError(f"position {position} (leaf {index}) is not in a tree of size {size}")
            return InclusionProof(position, index, size, self.tree.leaf(index), self.tree.inclusion_proof(index, size))

    def consistency_proof(self, first: int, second: int) -> tuple[int, int, list[bytes]]:
        with self._lock:
            second = self._size(second)
            if not 0 <= first <= second:
                raise JournalError(f"first size {first} must be between 0 and the second size {second}")
            return first, second, self.tree.consistency_proof(first, second)

    def root(self, size: int) -> bytes:
        """The root of the tree of ``size`` leaves (0: the current tree)."""
        with self._lock:
            return self.tree.root(self._size(size) if size else self.sync())

    def root_at(self, size: int) -> bytes:
        """The root of the tree of exactly ``size`` leaves (0: the empty tree)."""
        with self._lock:
            if size > self.tree.size:
                self.sync()
            return self.tree.root(size)

    # --- export and verification ----------------------------------------------------------------

    def export(self, from_position: int = 0) -> Iterator[dict[str, Any]]:
        """The journal from ``from_position`` as records: one header, then one per event."""
        with self._lock:
            self.sync()
            start = bisect.bisect_left(self.positions, from_position)
            prefix = self.tree.frontier(start)
            latest = self.latest_checkpoint()
            size = self.tree.size
        yield {
            "format": EXPORT_FORMAT,
            "start_index": start,
            "prefix": [base64.b64encode(h).decode() for h in prefix.hashes],
            "checkpoint": latest[0] if latest else "",
        }
        after = self.positions[start - 1] if start else BEFORE_ALL
        index = start
        while index < size:
            with self.cursor() as cur:  # one short read per page: no cursor held across yields
                page = self.tables.read_events(cur, after, min(2000, size - index))
            if not page:
                break
            for ev in page:
                yield {
                    "index": index,
                    "position": ev.position,
                    "originator_id": ev.originator_id.hex(),
                    "originator_version": ev.version,
                    "topic": ev.topic,
                    "state": base64.b64encode(ev.state).decode(),
                    "leaf_hash": base64.b64encode(self.tree.leaf(index)).decode(),
                }
                index += 1
            after = page[-1].position

    def verify_store(self, *, keys: Sequence[Verifier] = (), extra_checkpoints: Sequence[str] = (),
                     allow_unsigned_tail: bool = False) -> Report:
        """Verify the whole live store (``gpureg journal verify``).

        One read transaction (a consistent snapshot: SQLite's WAL snapshot, PostgreSQL's
        REPEATABLE READ) on a reader thread hands pages of events to this thread, which hashes
        them meanwhile (SQLite and hashlib both release the GIL for the large parts)."""
        keys = list(keys) or self.log_keys
        started = time.perf_counter()
        pages: queue.Queue[list[EventRow] | BaseException | None] = queue.Queue(maxsize=8)
        snapshot: dict[str, Any] = {}
        ready = threading.Event()

        def read() -> None:
            try:
                with self._snapshot() as cur:
                    snapshot["head"] = self.tables.read_head(cur)
                    snapshot["checkpoints"] = [n for _, _, n in self.tables.read_checkpoints(cur)]
                    snapshot["leaves"] = list(self.tables.iter_leaves(cur))
                    ready.set()
                    after = BEFORE_ALL
                    while True:
                        page = self.tables.read_events(cur, after, 2000)
                        if page:
                            pages.put(_with_leaves(page))  # hashed here, in parallel with the walk
                        if len(page) < 2000:
                            break
                        after = page[-1].position
                pages.put(None)
            except BaseException as e:  # handed to the verifying thread
                ready.set()
                pages.put(e)

        def events() -> Iterator[EventRow]:
            while True:
                page = pages.get()
                if page is None:
                    return
                if isinstance(page, BaseException):
                    raise page
                yield from page

        reader = threading.Thread(target=read, name="journal-verify-reader", daemon=True)
        reader.start()
        ready.wait()
        if "leaves" not in snapshot:
            error = pages.get()
            raise error if isinstance(error, BaseException) else JournalError("journal read failed")
        report = verify(events(), snapshot["leaves"], head=snapshot["head"],
                        checkpoints=[*snapshot["checkpoints"], *extra_checkpoints], keys=keys,
                        allow_unsigned_tail=allow_unsigned_tail)
        while reader.is_alive():  # the walk stopped early: let the reader finish its page
            with suppress(queue.Empty):
                pages.get(timeout=0.1)
        report.seconds = time.perf_counter() - started  # the whole verification, reads included
        return report

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        if self.tables.dialect == "sqlite":
            with self.cursor() as cur:
                cur.execute("PRAGMA mmap_size = 268435456")  # page reads become memory copies
                yield cur
            return
        datastore: Any = getattr(self.recorder, "datastore")  # noqa: B009
        with datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield cur


def _with_leaves(page: list[EventRow]) -> list[EventRow]:
    out = []
    for ev in page:
        try:
            leaf = event_leaf_hash(ev.position, ev.originator_id, ev.version, ev.topic, ev.state)
        except (TypeError, ValueError, OverflowError, struct.error):
            leaf = None  # the walk recomputes it and reports the problem
        out.append(ev._replace(leaf=leaf))
    return out


def _leaf_problem(index: int, position: int, stored: bytes, ev: EventRow | None, expected_index: int) -> str | None:
    if index != expected_index:
        return f"leaf index out of sequence (expected {expected_index})"
    if ev is None:
        return "the event recorded here is missing: deleted or truncated"
    if ev.position != position:
        return f"the event recorded here is missing (found position {ev.position} instead)"
    try:
        recomputed = event_leaf_hash(position, ev.originator_id, ev.version, ev.topic, ev.state)
    except (TypeError, ValueError, OverflowError, struct.error) as e:
        return f"the stored event is malformed ({e})"
    if recomputed != stored:
        return "the stored event is not the one recorded here (changed bytes or reordered)"
    return None


def _signed_root_ok(note: str, keys: Sequence[Verifier], root: bytes) -> bool:
    try:
        return SignedCheckpoint.open(note, keys).checkpoint.root == root
    except NoteError:
        return False


class Checkpointer:
    """Signs a checkpoint every ``every_events`` events or ``every_seconds`` seconds (whichever
    first) while the tree grows; runs on its own thread until :meth:`stop`."""

    def __init__(self, journal: Journal, every_events: int, every_seconds: float) -> None:
        self.journal = journal
        self.every_events = every_events
        self.every_seconds = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="journal-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        signed_size = self._latest_size()
        signed_at = time.monotonic()
        poll = min(1.0, self.every_seconds)
        while not self._stop.wait(poll):
            try:
                size = self.journal.sync()
                due = size - signed_size >= self.every_events or (
                    size > signed_size and time.monotonic() - signed_at >= self.every_seconds)
                if due:
                    self.journal.checkpoint()
                    signed_size, signed_at = size, time.monotonic()
            except Exception:
                log.exception("journal checkpoint failed")

    def _latest_size(self) -> int:
        latest = self.journal.latest_checkpoint()
        return latest[1] if latest else 0

    def stop(self) -> None:
        """Stop, and sign what the tree holds now (a clean stop leaves no unsigned tail)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.journal.checkpoint()
        except Exception:
            log.exception("journal checkpoint at stop failed")


def frontier_from_export(prefix: Sequence[str], start: int) -> Frontier:
    return Frontier(start, [base64.b64decode(h) for h in prefix])


def refuse_broken_chain(recorder: ApplicationRecorder) -> None:
    """Raise JournalBroken unless every event matches its leaf, the head is the tree of the leaves
    and every stored checkpoint's root is a root of that tree (signatures are checked where the
    key is known: ``gpureg journal verify``). A recorder without a journal passes."""
    from registry.journal.errors import JournalBroken

    try:
        journal = Journal(recorder)
    except JournalError:
        return
    report = journal.verify_store(allow_unsigned_tail=True)
    if report.problem is not None:
        raise JournalBroken(str(report.problem))
