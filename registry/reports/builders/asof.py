"""As-of views: the read models as they were at a past time, rebuilt from the log by the same code.

One concept: the as-of view; the pinned replay (from empty or from checkpoints), its index and the
read models over it share one scratch database and one lifetime.

A report is *as of* two times (:class:`registry.reports.AsOf`):

* **as recorded by T** (``recorded_by``, the default basis): what the registry had recorded by T.
  The view replays the log from its start and stops at the first command's write with an event
  whose recorded time (the library's ``timestamp``) is after T; a write is never split. Positions are
  handed out in recording order, so this is a prefix of the log, up to a log position
  (``AsOfView.position``). A fact recorded after T (even one that *happened* before T) is not in it,
  so a report printed last year is reproduced exactly today.
* **as occurred by T** (``occurred_by``, optional): of the events recorded by the first time, only
  those whose business time (``occurred_at``) is at or before T. An event is also left out when an
  earlier event of the same aggregate was left out: the events of one batch, party or
  authorization are applied in the order the registry recorded them and never reordered, so a
  late-reported receipt is not applied without its shipment.

The view replays that part of the log into a scratch SQLite database through the catalog's own
projections (:func:`projections.catalog.report_projections`, applied chunk by chunk with
:func:`projections.engine.apply_chunk`, the function the live workers use), plus an index of
aggregate versions and adopted screening-list snapshots. Reports then query it with
:class:`projections.queries.ReadModels`, and reference aggregates (parties, authorizations, ...)
are loaded at the version the view reached (``registry.repository.get(id, version=v)``, the domain's
own replay). Nothing is cached across views: every report replays the log again.

Partners' allocations are events (``PartnerAllocation``); the view uses those in force at the
recorded-by time (``ReadModels.allocations_at``), from the live read models or its own replay.

**Checkpoints** (``checkpoints.py``, ``gpureg report checkpoints``): when the store's read-model
database holds them, the replay starts from the latest usable checkpoint of the index and of each
projection instead of from empty, and reads only the log after it; the same rows, counts and bytes.

**At the log head** the live read models already are what the replay would build: when the view is
given them (``live``), nothing is left out (no occurred-by time, or every event occurred by it) and
each projection the view needs has an active generation of the current code version whose position
is exactly the view's ``position``, the view reads those tables instead of replaying the
projections, in ONE read transaction opened before the log is read (a consistent snapshot however
the workers move on meanwhile). The log is still read to the recorded-by time (to find the position
and fill the index, which is cheap); only when the live read models are not exactly there (behind,
ahead, an older code version, an occurred-by time that leaves events out) does the view replay the
projections into its scratch database, as for any past time. ``AsOfView.live`` says which was done.
"""

from __future__ import annotations

import gc
import logging
import pickle
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select

from projections.catalog import report_projections
from projections.db import (
    ACTIVE,
    POSITIONS,
    create_readmodel_engine,
    ensure_bookkeeping,
    is_sqlite,
    reading,
    table_exists,
    writing,
)
from projections.engine import (
    Generation,
    Handler,
    MemoryBuild,
    Projection,
    apply_chunk,
    create_generation,
    generations,
)
from projections.queries import Allocation, ReadModels
from projections.query_results import SerialInfo
from registry.application.service import Registry
from registry.reports.builders.checkpoints import (
    CHECKPOINTED,
    INDEX_KEY,
    Checkpoint,
    CheckpointStore,
    adopted_row,
    index_row,
    key_of,
    matches_log,
    occurred_at,
    write_of,
)
from registry.reports.builders.view_projections import for_view
from registry.reports.model import AsOf

WORKER = "as-of view"
_log = logging.getLogger("gpureg.reports")
CHUNK = 2000
PAGE_ROWS = 1000  # rows kept per page (one pickled list per row of report_rows)
PENDING_ROWS = 4000  # rows kept in memory at most before their pages are written
ROWS = MetaData()
REPORT_ROWS = Table(  # rows a report computed once, read back by each rendering pass (see AsOfView.keep)
    "report_rows", ROWS,
    Column("key", String(200), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),  # a page of rows (a pickled list)
    Column("row", LargeBinary, nullable=False),
)


class AsOfIndex(Projection):
    """What a report needs beside the read models: the version each aggregate reached in the view
    (to load reference aggregates as of then) and the latest adopted screening-list snapshots."""

    name = "asof_index"
    version = 1

    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        event = Table(  # one row per event applied (appended: no read per event)
            name("event"), metadata,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("aggregate_id", Uuid, nullable=False),
            Column("kind", String(64), nullable=False),
            Column("version", Integer, nullable=False),
        )
        Index(f"ix_{event.name}_aggregate", event.c.aggregate_id, event.c.version)
        Index(f"ix_{event.name}_kind", event.c.kind, event.c.version)
        screening = Table(
            name("screening_list"), metadata,
            Column("source", String(200), primary_key=True),
            Column("snapshot_id", Uuid, nullable=False),
            Column("sha256", String(64), nullable=False),
            Column("position", BigInteger, nullable=False),
        )
        return {"event": event, "screening_list": screening}

    def handlers(self) -> Mapping[type[Any], Handler]:
        return {}  # no handlers: AsOfView._index_chunk writes a whole chunk in one statement per table


def last_recorded_at(registry: Registry) -> datetime | None:
    """When the registry had recorded its latest write (the default recorded-by time of a report):
    the latest recorded time among the events of the last command's write."""
    head = registry.head()
    if not head:
        return None
    tail: list[Any] = [registry.decode(n) for n in registry.read_log(max(head - 100, 0), 100)]
    if not tail:
        return None
    last = write_of(tail[-1])
    when: datetime = max(e.timestamp for e in tail if write_of(e) == last)
    return when


class ViewReadModels(ReadModels):
    """The read models of a view: asking one the view did not replay is an error, not an empty answer.
    The allocations are those in force at the as-of time: given (from the live read models), else
    derived from the replayed ownership projection (allocations are events)."""

    def __init__(
        self, engine: Engine, registry: Registry, projections: Sequence[Projection], as_of: datetime,
        allocations: Sequence[Allocation] = (),
        serials: bool = True,
    ) -> None:
        super().__init__(engine, registry, projections)
        self._as_of = as_of
        self._serials = serials  # False: the batch inventory was replayed without its serial rows
        self._given = sorted(allocations, key=lambda a: a.partner_id.hex)

    def batch_units(self, batch_id: UUID, page_size: int = 0, page_token: str = "") -> tuple[list[SerialInfo], str]:
        self._serial_rows()
        return super().batch_units(batch_id, page_size, page_token)

    def serial(self, serial: str) -> SerialInfo | None:
        self._serial_rows()
        return super().serial(serial)

    def batch_compliance(self, batch_id: UUID) -> Any:
        if not self._serials:
            raise LookupError(
                "the as-of view kept only the compliance projection's waiting serial rows (no report counts "
                "them); build the view with in_memory=False"
            )
        return super().batch_compliance(batch_id)

    def _serial_rows(self) -> None:
        if not self._serials:
            raise LookupError(
                "the as-of view did not keep the batch inventory's serial rows (no report reads them); "
                "build the view with in_memory=False"
            )

    def allocations(self) -> list[Allocation]:
        if self._given or "ownership" not in self.projections:
            return list(self._given)
        return self.allocations_at(self._as_of)

    def _read(self, name: str, query: Callable[[Any, Any], Any], empty: Any) -> Any:
        if name not in self.projections:
            raise LookupError(f"the as-of view did not replay the {name} projection; add it to the report's NEEDS")
        return super()._read(name, query, empty)


class LiveReadModels(ReadModels):
    """The live read models as a view at the log head: every query runs on one connection in one read
    transaction (the snapshot the view checked the projections' positions in), on the active generation
    found then; the allocations are those in force at the as-of time (as a replayed view has them)."""

    def __init__(
        self,
        conn: Connection,
        registry: Registry,
        projections: Sequence[Projection],
        active: Mapping[str, int],
        allocations: Sequence[Allocation],
    ) -> None:
        super().__init__(conn.engine, registry, projections)
        self.conn = conn
        self.active = dict(active)
        self._allocations = sorted(allocations, key=lambda a: a.partner_id.hex)

    def _read(self, name: str, query: Callable[[Any, Any], Any], empty: Any) -> Any:
        if name not in self.projections:
            raise LookupError(f"the as-of view did not replay the {name} projection; add it to the report's NEEDS")
        return query(self.conn, self.projections[name].tables(self.active[name]))

    def allocations(self) -> list[Allocation]:
        return list(self._allocations)


@dataclass(frozen=True)
class ScreeningSnapshot:
    source: str
    snapshot_id: UUID
    sha256: str


class AsOfView:
    """The read models as of ``as_of``, in a scratch SQLite database (see the module docstring).

    Use as a context manager (or call :meth:`close`): the scratch database is deleted on close.
    ``position``: the last log position recorded by the recorded-by time (0 when none);
    ``applied``: events applied to the view; ``left_out``: events recorded by then but left out
    because they (or an earlier event of their aggregate) occurred after the occurred-by time.
    """

    def __init__(
        self,
        registry: Registry,
        as_of: AsOf,
        allocations: Sequence[Allocation] = (),
        projections: Sequence[Projection] | None = None,
        chunk_size: int = CHUNK,
        live: ReadModels | None = None,
        in_memory: bool = True,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self.registry = registry
        self.in_memory = in_memory
        self.as_of = as_of
        self.projections: list[Projection] = list(projections or report_projections())
        self.index = AsOfIndex()
        self._dir = tempfile.mkdtemp(prefix="gpureg-asof-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self.engine: Engine = create_readmodel_engine(f"sqlite:///{Path(self._dir) / 'asof.db'}")
        _scratch_pragmas(self.engine)
        self.position = 0
        self.applied = 0
        self.left_out = 0
        self.first_left_out = 0  # the position of the first event left out (0: none)
        self.resumed_from: dict[str, int] = {}  # projection -> the checkpoint position its replay started at
        self.index_from = 0  # the index checkpoint's position the log was read from (0: its start)
        self._checkpoints = checkpoints if in_memory else None
        self._memo: dict[UUID, Any] = {}
        self._kept: dict[str, tuple[int, int]] = {}  # key: (rows, pages written)
        self._pending: dict[str, list[tuple[Any, ...]]] = {}  # rows kept but not written yet, by key
        self._pending_rows = 0
        self.live = False
        self._keeping: Connection | None = None
        self._reader: PoolProxiedConnection | None = None  # reads kept rows (see kept)
        self._pinned: Connection | None = None
        self._active: dict[str, int] = {p.name: 1 for p in self.projections}
        self.read_models: ReadModels
        try:
            ensure_bookkeeping(self.engine)
            with writing(self.engine) as conn:
                ROWS.create_all(conn)
            live_positions = self._pin(live) if live is not None else None
            if live_positions is not None and not self._may_reach(live_positions):
                live_positions = None
            index_at = self._index_checkpoint()
            if live_positions is None:  # no live read models to use: one pass does it all
                self._unpin()
                together = self._states_at(index_at[0]) if index_at is not None else None
                if index_at is not None and together is not None:  # one pass from the common checkpoint
                    self._replay([*self.projections, self.index], chunk_size, together, index_at[0].position,
                                 index_at[1])
                elif self._usable_checkpoints():  # the others with the index, the checkpointed from a checkpoint
                    light = [p for p in self.projections if p.name not in CHECKPOINTED]
                    if light or index_at is None:
                        self._replay([*light, self.index], chunk_size)
                    else:
                        self._replay([self.index], chunk_size, None, index_at[0].position, index_at[1])
                    self._replay_from_checkpoints([p for p in self.projections if p.name in CHECKPOINTED],
                                                  chunk_size)
                else:
                    self._replay([*self.projections, self.index], chunk_size)
                self.read_models = ViewReadModels(
                    self.engine, registry, self.projections, as_of.recorded_by, allocations, not in_memory
                )
            else:
                if index_at is not None:
                    self._replay([self.index], chunk_size, None, index_at[0].position, index_at[1])
                else:
                    self._replay([self.index], chunk_size)
                if self._at(live_positions):
                    assert self._pinned is not None
                    self.live = True
                    self._active = {name: gen.generation for name, gen in live_positions.items()}
                    self.read_models = LiveReadModels(
                        self._pinned, registry, self.projections, self._active, allocations
                    )
                else:  # the log again, into the projections this time
                    self._unpin()
                    if self._usable_checkpoints():
                        self._replay_from_checkpoints(self.projections, chunk_size)
                    else:
                        self._replay(self.projections, chunk_size)
                    self.read_models = ViewReadModels(
                        self.engine, registry, self.projections, as_of.recorded_by, allocations, not in_memory
                    )
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------------- lifecycle
    def __enter__(self) -> AsOfView:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._unpin()
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.close()
        self.engine.dispose()
        self._cleanup()

    # ------------------------------------------------------------------ the log head
    def _pin(self, live: ReadModels) -> dict[str, Generation] | None:
        """Open the read transaction on the live read models (before the log is read) and return the
        active generation of each projection the view needs (None when one has none)."""
        conn = live.engine.connect()
        try:
            if not is_sqlite(live.engine):
                conn.execution_options(isolation_level="REPEATABLE READ")
            conn.begin()
            wanted = {p.name: p for p in self.projections}
            if not table_exists(conn, POSITIONS.name):  # no read models in that database (yet)
                conn.close()
                return None
            found = {
                g.name: g for g in generations(conn) if g.status == ACTIVE and g.name in wanted
                and g.version == wanted[g.name].version
            }
        except BaseException:
            conn.close()
            raise
        self._pinned = conn
        return found if len(found) == len(wanted) else None

    def _may_reach(self, live_positions: Mapping[str, Generation]) -> bool:
        """False when the view cannot end at the live read models' position (so the log need not be
        read twice): they are at different positions, or the event there was recorded after the
        recorded-by time (the replay stops before its write)."""
        positions = {g.position for g in live_positions.values()}
        if len(positions) != 1:
            return False
        position = positions.pop()
        if position <= 0:
            return True
        found = self.registry.read_log(position - 1, 1)
        if not found or found[0].id != position:
            return True  # cannot tell from here: the first pass will
        event: Any = self.registry.decode(found[0])
        return bool(event.timestamp <= self.as_of.recorded_by)

    def _at(self, live_positions: Mapping[str, Generation]) -> bool:
        """Whether the live read models are exactly what replaying to the view's position gives."""
        return self.left_out == 0 and all(g.position == self.position for g in live_positions.values())

    def _unpin(self) -> None:
        if self._pinned is not None:
            conn, self._pinned = self._pinned, None
            try:
                conn.rollback()
            finally:
                conn.close()

    # ------------------------------------------------------------------------- replay
    def _usable_checkpoints(self) -> bool:
        return self._checkpoints is not None and self._checkpoints.available()

    def _index_checkpoint(self) -> tuple[Checkpoint, Mapping[str, Any]] | None:
        """The latest checkpoint of the index whose events were all recorded by the recorded-by time and
        that still matches the log, with its state; None with an occurred-by time (which may leave out an
        event before it) or without checkpoints. Its position ends a write, so the view's prefix takes it
        whole (see ``checkpoints.INDEX_KEY``)."""
        if self.as_of.occurred_by is not None or not self._usable_checkpoints():
            return None
        assert self._checkpoints is not None
        store = self._checkpoints
        found = store.nearest(INDEX_KEY, 1 << 62, self.as_of.recorded_by)
        while found is not None:
            if matches_log(self.registry, found):
                try:
                    return found, store.load(found)
                except Exception as error:  # an unreadable checkpoint: try the one before
                    _log.warning("as-of index checkpoint at %s unreadable: %s", found.position, error)
            found = store.nearest(INDEX_KEY, found.position - 1, self.as_of.recorded_by)
        return None

    def _states_at(self, at: Checkpoint) -> dict[str, Mapping[str, Any]] | None:
        """Every projection's checkpoint state at the index checkpoint's position (None if one lacks it
        or cannot be read: the view then replays its projections in a pass of their own)."""
        assert self._checkpoints is not None
        store = self._checkpoints
        states: dict[str, Mapping[str, Any]] = {}
        for p in self.projections:
            key = key_of(p)
            if p.name not in CHECKPOINTED or not store.has(key, at.position, at.event):
                return None
            try:
                states[p.name] = store.load(Checkpoint(key, at.position, at.event))
            except Exception as error:
                _log.warning("as-of checkpoint %s at %s unreadable: %s", key, at.position, error)
                return None
        self.resumed_from.update(dict.fromkeys(states, at.position))
        return states

    def _replay_from_checkpoints(self, projections: Sequence[Projection], chunk_size: int) -> None:
        """After the index pass (which found the position and the first event left out): replay
        ``projections``, those with a checkpoint (``CHECKPOINTED``) from their latest one before both (see
        ``checkpoints.py``), only the tail; the others from empty."""
        assert self._checkpoints is not None
        if not projections:
            return
        store = self._checkpoints
        limit = self.position if not self.first_left_out else min(self.position, self.first_left_out - 1)
        states: dict[str, Mapping[str, Any]] = {}
        verified: dict[int, bool] = {}
        for p in projections:
            if p.name not in CHECKPOINTED:
                continue
            found = store.nearest(key_of(p), limit)
            while found is not None:
                if found.position not in verified:
                    verified[found.position] = matches_log(self.registry, found)
                if verified[found.position]:
                    break
                found = store.nearest(found.key, found.position - 1)
            if found is None:
                continue
            try:
                states[p.name] = store.load(found)
            except Exception as error:  # an unreadable checkpoint: replay this projection from empty
                _log.warning("as-of checkpoint %s at %s unreadable, replaying from empty: %s",
                             found.key, found.position, error)
                continue
            self.resumed_from[p.name] = found.position
        start = min((int(states[p.name]["position"]) if p.name in states else 0) for p in projections)
        self._replay(projections, chunk_size, states, start)

    def _replay(
        self, projections: Sequence[Projection], chunk_size: int,
        resume: Mapping[str, Mapping[str, Any]] | None = None, start: int = 0,
        index_state: Mapping[str, Any] | None = None,
    ) -> None:
        """Apply the log prefix recorded by the recorded-by time, one command's write at a time.

        A command's events are written in one transaction but each carries its own recorded time, a
        few microseconds apart; the registry knew none of them before the transaction committed, after
        the last. So a write is in the prefix only when *all* its events were recorded by the time:
        the events of the write in progress are held until the next write starts, and dropped when
        one of them was recorded after the time. Events of one write share actor, request id and
        business time (one command's context). Each call reads the log again and applies it to
        ``projections`` (the view's own index, then, unless the live read models are used, the
        projections); the position and counts come out the same each time.

        ``resume`` (projection name -> a checkpoint's build state) and ``start``: from log position
        ``start`` (no event at or before it left out), each projection's build continuing from its
        checkpoint. Without the index among ``projections``: a tail pass after the index pass, whose
        position and counts are kept. With it: ``index_state`` is the index's checkpoint at ``start``
        (a write's end, every event before it recorded by the time), its rows and counts the start."""
        targets = list(projections)
        counts = (self.position, self.applied, self.left_out, self.first_left_out)
        counting = self.index in targets
        assert not (counting and start and index_state is None), "an index pass from a position needs its checkpoint"
        self.position = int(index_state["position"]) if counting and index_state is not None else 0
        self.applied = int(index_state["applied"]) if counting and index_state is not None else 0
        self.left_out = 0
        self.first_left_out = 0
        gens: list[Generation] = [create_generation(self.engine, p, ACTIVE, WORKER) for p in targets]
        recorded_by = self.as_of.recorded_by
        occurred_by = self.as_of.occurred_by
        held_back: set[Any] = set()  # aggregates with an event left out: their later events wait too
        decoded: dict[int, Any] = {}
        write: list[tuple[Notification, Any]] = []  # the events of the write in progress
        chosen: list[Notification] = []

        def accept() -> None:
            for n, e in write:
                self.position = n.id
                if occurred_by is not None and (e.originator_id in held_back or occurred_at(e) > occurred_by):
                    held_back.add(e.originator_id)
                    self.left_out += 1
                    self.first_left_out = self.first_left_out or n.id
                    continue
                decoded[n.id] = e
                chosen.append(n)
            write.clear()

        # The view's generations start empty and only this replay writes them: each projection is
        # built in memory (the handlers' rows kept across chunks, no read or UPDATE per chunk) and
        # written once at the end, as a rebuild does (:class:`projections.engine.MemoryBuild`).
        # ``in_memory=False`` applies each chunk to the tables instead (:func:`apply_chunk`, as a live
        # worker does): the same rows, slower; kept to check the two give the same reports.
        # In memory the view also replays its own variants of the projections (view_projections):
        # the batch inventory without the per-serial rows no report reads.
        if counting and index_state is not None:
            self._index_rows(index_state["events"], index_state["screening"].values())
            self.index_from = self.position
        states = resume or {}
        builds = [
            None if not self.in_memory or p is self.index
            else MemoryBuild.resume(for_view([p])[0], gen, states[p.name]) if p.name in states
            else MemoryBuild(for_view([p])[0], gen)
            for p, gen in zip(targets, gens, strict=True)
        ]

        def apply() -> None:
            if chosen:
                for p, gen, build in zip(targets, gens, builds, strict=True):
                    if p is self.index:
                        self._index_chunk(chosen, decoded)
                    elif build is not None:
                        build.apply(chosen, lambda n: decoded[n.id])
                    else:
                        apply_chunk(self.engine, p, gen, chosen, lambda n: decoded[n.id], WORKER)
                self.applied += len(chosen)
            chosen.clear()
            decoded.clear()

        after = start
        finished = False
        collecting = gc.isenabled()  # the builds hold many rows that form no cycles: no collections meanwhile
        gc.disable()
        try:
            while not finished:
                notes = self.registry.read_log(after, chunk_size)
                if not notes:
                    accept()
                    break
                for n in notes:
                    e: Any = self.registry.decode(n)
                    if write and write_of(e) != write_of(write[-1][1]):
                        accept()
                    if e.timestamp > recorded_by:
                        if write and write_of(e) == write_of(write[-1][1]):
                            write.clear()  # committed after the time: none of this write was known by then
                        else:
                            accept()
                        finished = True
                        break
                    write.append((n, e))
                after = notes[-1].id
                apply()
            apply()
            for build in builds:
                if build is not None:
                    build.write(self.engine, WORKER)
        finally:
            if collecting:
                gc.enable()
        if not counting:
            self.position, self.applied, self.left_out, self.first_left_out = counts

    def _index_chunk(self, chosen: Sequence[Notification], decoded: Mapping[int, Any]) -> None:
        """Apply a chunk to the view's index (:class:`AsOfIndex`): a row per event with its aggregate's
        version, and the latest adopted snapshot per screening list; one statement per table (the
        index is the view's own, and every event has a row in it)."""
        events: list[dict[str, Any]] = []
        adopted: dict[str, dict[str, Any]] = {}
        for n in chosen:
            e = decoded[n.id]
            events.append(index_row(n, e))
            row = adopted_row(n, e)
            if row is not None:
                adopted[row["source"]] = row
        self._index_rows(events, adopted.values())

    def _index_rows(self, events: Sequence[Mapping[str, Any]], adopted: Iterable[Mapping[str, Any]]) -> None:
        tables = self.index.tables(1)
        t = tables["screening_list"]
        with writing(self.engine) as conn:
            if events:
                conn.execute(insert(tables["event"]), list(events))
            for row in adopted:
                conn.execute(delete(t).where(t.c.source == row["source"]))
                conn.execute(insert(t), dict(row))

    # ------------------------------------------------------------------------ queries
    def table(self, projection: str, name: str) -> Table:
        """A table of one of the view's projections (replayed, or the live generation at the head)."""
        found = next((p for p in self.projections if p.name == projection), None)
        if found is None:
            raise LookupError(
                f"the as-of view did not replay the {projection} projection; add it to the report's NEEDS"
            )
        return found.tables(self._active[projection])[name]

    def rows(self, stmt: Select[Any]) -> Iterator[Any]:
        """Stream a query's rows from the view's read models (replayed or live), as mappings."""
        if self._pinned is not None:
            yield from self._pinned.execute(stmt).mappings()
            return
        with reading(self.engine) as conn:
            yield from conn.execute(stmt).mappings()

    def screening_snapshots(self) -> list[ScreeningSnapshot]:
        """The latest adopted snapshot of each restricted-party list, by source."""
        t = self.index.tables(1)["screening_list"]
        with reading(self.engine) as conn:
            rows = conn.execute(select(t).order_by(t.c.source)).mappings().all()
        return [ScreeningSnapshot(r["source"], r["snapshot_id"], r["sha256"]) for r in rows]

    def version_of(self, aggregate_id: UUID) -> int | None:
        t = self.index.tables(1)["event"]
        with reading(self.engine) as conn:
            found = conn.execute(select(func.max(t.c.version)).where(t.c.aggregate_id == aggregate_id)).scalar()
        return None if found is None else int(found)

    def ids_of(self, kind: str) -> Iterator[UUID]:
        """Ids of the aggregates of one class (``"Party"``, ``"ExportAuthorization"``, ...) in the
        view, in the order they were created."""
        t = self.index.tables(1)["event"]
        with reading(self.engine) as conn:
            ids = conn.execute(
                select(t.c.aggregate_id).where(t.c.kind == kind, t.c.version == 1).order_by(t.c.position)
            ).scalars().all()
        yield from ids

    def keep(self, key: str, rows: Iterable[tuple[Any, ...]], page: int = PAGE_ROWS) -> int:
        """Store rows a report derived (one pass over the read models) so that each rendering pass
        reads them back cheaply instead of deriving them again; a later call with the same key adds
        to them. Returns how many were added. ``rows`` may be a generator reading the view (it is
        consumed inside the write), but must not write to it. Rows are pickled a page (up to ``page``
        rows) at a time: they are cells (str, int, Decimal, datetime, UUID, None) this process wrote to
        its own scratch database, and come back exactly. Inside :meth:`keeping`, the rows of many calls
        are gathered into pages (at most a few pages' worth are held) and written when it ends."""
        if self._keeping is None:
            with self.keeping():
                return self.keep(key, rows, page)
        added = 0
        pending = self._pending.setdefault(key, [])
        for row in rows:
            pending.append(tuple(row))
            added += 1
            self._pending_rows += 1
            if len(pending) >= page:
                self._write_page(key)
                pending = self._pending.setdefault(key, [])
        rows_before, pages = self._kept.get(key, (0, 0))
        self._kept[key] = (rows_before + added, pages)
        if self._pending_rows >= PENDING_ROWS:
            for k in list(self._pending):
                self._write_page(k)
        return added

    def _write_page(self, key: str) -> None:
        pending = self._pending.pop(key, [])
        if not pending:
            return
        assert self._keeping is not None
        rows, pages = self._kept.get(key, (0, 0))
        self._keeping.execute(insert(REPORT_ROWS), {"key": key, "seq": pages, "row": pickle.dumps(pending, 5)})
        self._kept[key] = (rows, pages + 1)
        self._pending_rows -= len(pending)

    @contextmanager
    def keeping(self) -> Iterator[None]:
        """Make the :meth:`keep` calls inside one write transaction (a builder's pass over the batches
        keeps a few rows per batch: one transaction, or one page, each would cost more than the rows)."""
        if self._keeping is not None:
            yield
            return
        with writing(self.engine) as conn:
            self._keeping = conn
            try:
                yield
                for k in list(self._pending):
                    self._write_page(k)
            finally:
                self._keeping = None
                self._pending.clear()
                self._pending_rows = 0

    def kept(self, key: str) -> Iterator[tuple[Any, ...]]:
        """The rows stored under ``key``, in order, streamed."""
        t = REPORT_ROWS
        if self._keeping is not None:
            self._write_page(key)
            for (data,) in self._keeping.execute(select(t.c.row).where(t.c.key == key).order_by(t.c.seq)):
                yield from pickle.loads(data)  # noqa: S301 (written by this process, to its own scratch file)
            return
        # A rendering pass reads a few hundred keys: one statement each on a connection the view keeps
        # (SQLite in autocommit: each statement reads a consistent state), not a transaction each.
        if self._reader is None:
            self._reader = self.engine.raw_connection()
        cursor = self._reader.cursor()
        try:
            cursor.execute(f"SELECT row FROM {t.name} WHERE key = ? ORDER BY seq", (key,))  # noqa: S608
            while (found := cursor.fetchone()) is not None:
                yield from pickle.loads(found[0])  # noqa: S301 (written by this process, to its own scratch file)
        finally:
            cursor.close()

    def aggregate(self, aggregate_id: UUID) -> Any | None:
        """A reference aggregate (party, site, GPU model, authorization) as of the view: loaded
        from the store at the version the view reached; None when it did not exist then. Kept for
        the life of the view (reference aggregates are few); load batches through the read models."""
        if aggregate_id in self._memo:
            return self._memo[aggregate_id]
        version = self.version_of(aggregate_id)
        found = None if version is None else self.registry.repository.get(aggregate_id, version=version)
        self._memo[aggregate_id] = found
        return found


def _scratch_pragmas(engine: Engine) -> None:
    """A scratch database needs no durability: skip the fsyncs."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-16384")  # 16 MiB of page cache
        cursor.close()
