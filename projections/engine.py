"""The projection engine: projections, their generations, and exactly-once chunk application.

A :class:`Projection` turns registry events into rows of its own tables. Its tables exist in
*generations* (``rm_<projection>_<table>_g<N>``): a rebuild fills a fresh generation while queries keep
reading the active one, then switches over in one transaction.

Exactly once: :func:`apply_chunk` first moves the generation's position from the value the
caller read to the chunk's last notification id with a conditional ``UPDATE ... WHERE
position = <old>``, then writes the chunk's rows, all in one transaction. A crash before the
commit loses nothing (the position did not move); a second writer that raced us finds the
position moved and rolls back (no double count), whatever the locks say. :func:`apply_chunks`
does the same for several projections in one transaction, and :class:`MemoryBuild` for a
generation built from empty in memory (its rows and final position in one transaction).
"""

from __future__ import annotations

import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)

from projections.db import ACTIVE, BUILDING, POSITIONS, reading, table_exists, writing
from projections.pg_rows import raw_cursor
from projections.pg_rows import supported as multi_row_supported
from projections.row_cache import Key, Row, RowCache, Work, _sql, bulk_insert

Handler = Callable[["Work", Any], None]

__all__ = [  # the row caches are re-exported: projections import them from here
    "Generation", "Handler", "Key", "MemoryBuild", "PositionMoved", "Projection", "Row", "RowCache", "Work",
    "active_generation", "apply_chunk", "apply_chunks", "bulk_insert", "create_generation", "drop_generation",
    "dump_generation", "generations", "switch_over",
]

_BUILD_CACHE_KIB = -256 * 1024  # SQLite page cache while a memory build is written (negative: KiB)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PositionMoved(Exception):
    """The generation's position changed under us (another writer, a switch-over): reload."""


class Projection(ABC):
    """One read model: its tables and how each event changes them.

    Subclasses set ``name`` and ``version`` (bump the version whenever the tables or the
    handling change: the runner then rebuilds the projection at start), define their tables in
    :meth:`define` (named ``rm_<projection>_<table>_g<generation>``) and map event classes to
    handlers in :meth:`handlers`. Handlers work on :class:`Work`, which caches rows for the
    whole chunk and writes them once at its end.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    #: scratch entries a handler rebuilds from the rows when absent (``Work.scratch``): left out of
    #: a checkpoint of a memory build (:meth:`MemoryBuild.state`)
    derived_scratch: ClassVar[frozenset[str]] = frozenset()
    #: the handlers get the stored Notification instead of the decoded event (a projection of the
    #: stored form, :mod:`projections.event_stream`)
    raw: ClassVar[bool] = False
    #: a build from empty writes chunk by chunk (each chunk's rows with its position, in one
    #: transaction, as a following worker does: :func:`apply_chunk`) instead of in memory and once
    #: (:class:`MemoryBuild`): for a projection whose rows each come from one event alone and never
    #: change (nothing to gain from holding them), so that its build holds one chunk, not the log
    #: (:mod:`projections.event_stream`)
    chunked_build: ClassVar[bool] = False

    def __init__(self) -> None:
        self._tables: dict[int, dict[str, Table]] = {}
        self._by_topic: dict[str, Handler] | None = None

    @abstractmethod
    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        """Declare the tables; ``name("batch")`` gives this projection's and generation's table name."""

    @abstractmethod
    def handlers(self) -> Mapping[type[Any], Handler]:
        """Event class -> handler."""

    def written(self) -> Mapping[str, Callable[[Row], bool]]:
        """A memory build writes, per table named here, only the rows the predicate keeps (every row of
        every table by default); the handlers still see every row. Only a report view's variant of a
        projection narrows it (``registry/reports/builders/view_projections.py``)."""
        return {}

    def bind(self, log: Any) -> None:
        """Called with the event log before the projection handles events (runner, rebuild):
        for a projection that needs more of the log than its events (none but the event stream)."""
        return

    def tables(self, generation: int) -> dict[str, Table]:
        if generation not in self._tables:
            self._tables[generation] = self.define(
                MetaData(), lambda base: f"rm_{self.name}_{base}_g{generation}"
            )
        return self._tables[generation]

    def handler_for(self, topic: str) -> Handler | None:
        if self._by_topic is None:
            self._by_topic = {get_topic(cls): h for cls, h in self.handlers().items()}
        return self._by_topic.get(topic)




# ------------------------------------------------------------------------------ generations
@dataclass
class Generation:
    """One row of ``projection_positions``."""

    name: str
    generation: int
    version: int
    status: str
    position: int
    worker: str = ""
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> Generation:
        return cls(
            name=row["name"],
            generation=row["generation"],
            version=row["version"],
            status=row["status"],
            position=row["position"],
            worker=row["worker"],
            updated_at=_aware(row["updated_at"]),
        )


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def generations(conn: Connection, name: str | None = None) -> list[Generation]:
    stmt = select(POSITIONS).order_by(POSITIONS.c.name, POSITIONS.c.generation)
    if name is not None:
        stmt = stmt.where(POSITIONS.c.name == name)
    return [Generation.of(r) for r in conn.execute(stmt).mappings()]


def active_generation(conn: Connection, name: str) -> Generation | None:
    found = [g for g in generations(conn, name) if g.status == ACTIVE]
    return found[0] if found else None


def create_generation(engine: Engine, projection: Projection, status: str, worker: str) -> Generation:
    """Allocate the next generation number and create its (empty) tables, atomically."""
    with writing(engine) as conn:
        if status == ACTIVE and active_generation(conn, projection.name) is not None:
            raise PositionMoved(f"{projection.name} already has an active generation")
        top = conn.execute(
            select(func.max(POSITIONS.c.generation)).where(POSITIONS.c.name == projection.name)
        ).scalar()
        number = int(top or 0) + 1
        gen = Generation(projection.name, number, projection.version, status, 0, worker, _now())
        conn.execute(insert(POSITIONS).values(**_row(gen)))
        for table in projection.tables(number).values():
            table.create(conn, checkfirst=True)
        return gen


def drop_generation(engine: Engine, projection: Projection, number: int) -> None:
    with writing(engine) as conn:
        for table in reversed(list(projection.tables(number).values())):
            if table_exists(conn, table.name):
                table.drop(conn)
        conn.execute(
            delete(POSITIONS).where(
                POSITIONS.c.name == projection.name, POSITIONS.c.generation == number
            )
        )


def switch_over(engine: Engine, building: Generation) -> tuple[bool, Generation | None]:
    """Make a caught-up building generation the active one.

    Returns (switched, replaced): ``switched`` is False while ``building`` is still behind the
    active generation (the caller catches up further and tries again); ``replaced`` is the old
    active generation, whose tables the caller drops once the switch is committed. Raises
    PositionMoved if ``building`` is gone or was moved by someone else."""
    with writing(engine) as conn:
        rows = {
            g.generation: g
            for g in generations(conn, building.name)
        }
        mine = rows.get(building.generation)
        if mine is None or mine.status != BUILDING:
            raise PositionMoved(f"{building.name} generation {building.generation} is gone")
        if mine.position != building.position:
            raise PositionMoved(f"{building.name} generation {building.generation} moved")
        old = next((g for g in rows.values() if g.status == ACTIVE), None)
        if old is not None and old.position > mine.position:
            return False, None
        if old is not None:
            # The old generation is deleted from the bookkeeping now; its tables are dropped
            # by the caller, after the switch is committed.
            conn.execute(
                delete(POSITIONS).where(
                    POSITIONS.c.name == old.name, POSITIONS.c.generation == old.generation
                )
            )
        conn.execute(
            update(POSITIONS)
            .where(POSITIONS.c.name == mine.name, POSITIONS.c.generation == mine.generation)
            .values(status=ACTIVE, updated_at=_now())
        )
        building.status = ACTIVE
        return True, old


def _row(gen: Generation) -> Row:
    return {
        "name": gen.name,
        "generation": gen.generation,
        "version": gen.version,
        "status": gen.status,
        "position": gen.position,
        "worker": gen.worker,
        "updated_at": gen.updated_at or _now(),
    }


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- applying
def _move_position(conn: Connection, gen: Generation, new_position: int, worker: str) -> None:
    """Move ``gen`` from the position we read to ``new_position``, or raise PositionMoved."""
    _move_positions(conn, [(gen, new_position)], worker)


def _move_positions(conn: Connection, moves: Sequence[tuple[Generation, int]], worker: str) -> None:
    """Move each generation from the position we read to its new one with ONE conditional
    ``UPDATE`` run for every generation (one round trip on PostgreSQL, BEGIN included), or raise
    PositionMoved when any of them had moved: the drivers sum ``executemany``'s row counts."""
    sql = _sql(conn, POSITIONS)
    now = sql.value("updated_at", _now())
    if multi_row_supported(conn.dialect):
        cursor = raw_cursor(conn)
        with _pipelined(conn):  # BEGIN, a statement's preparation and its execution: one round trip
            params = [(new, worker, now, gen.name, gen.generation, gen.position, gen.status) for gen, new in moves]
            cursor.execute(_positions_update(len(moves)), [v for row in params for v in row])
        if cursor.rowcount != len(moves):
            names = ", ".join(f"{gen.name} generation {gen.generation}" for gen, _ in moves)
            raise PositionMoved(f"{names}: one moved or was switched")
        return
    cursor = conn.connection.cursor()
    cursor.executemany(
        f"UPDATE {sql.table} SET {sql.quoted['position']} = {sql.mark}, {sql.quoted['worker']} = {sql.mark}, "  # noqa: S608
        f"{sql.quoted['updated_at']} = {sql.mark} "
        f"WHERE {sql.equal(['name', 'generation', 'position', 'status'])}",
        [(new, worker, now, gen.name, gen.generation, gen.position, gen.status) for gen, new in moves],
    )
    moved = cursor.rowcount
    cursor.close()
    if moved != len(moves):
        names = ", ".join(f"{gen.name} generation {gen.generation}" for gen, _ in moves)
        raise PositionMoved(f"{names}: one moved or was switched")


_POSITION_COLUMNS = (("new", "BIGINT"), ("worker", "VARCHAR"), ("updated_at", "TIMESTAMP WITH TIME ZONE"),
                     ("name", "VARCHAR"), ("generation", "INTEGER"), ("position", "BIGINT"), ("status", "VARCHAR"))


@cache
def _positions_update(n: int) -> str:
    """PostgreSQL: :func:`_move_positions`' conditional ``UPDATE`` of ``n`` generations as ONE
    statement over a ``VALUES`` list (``$n`` placeholders, for the kept ``RawCursor``): its row
    count is how many moved, as ``executemany``'s sum was, without a Bind and Execute per row."""
    width = len(_POSITION_COLUMNS)
    values = ", ".join(
        "(" + ", ".join(f"${i * width + j + 1}::{t}" for j, (_, t) in enumerate(_POSITION_COLUMNS)) + ")"
        for i in range(n)
    )
    return (
        "UPDATE projection_positions AS t SET position = v.new, worker = v.worker, updated_at = v.updated_at "  # noqa: S608
        f"FROM (VALUES {values}) AS v ({', '.join(c for c, _ in _POSITION_COLUMNS)}) "
        "WHERE t.name = v.name AND t.generation = v.generation AND t.position = v.position AND t.status = v.status"
    )


@contextmanager
def _writing(engine: Engine, connection: Connection | None) -> Iterator[Connection]:
    """One write transaction on ``connection`` (opened with ``writing_connection``), else as
    :func:`projections.db.writing`."""
    if connection is None:
        with writing(engine) as conn:
            yield conn
        return
    with connection.begin():
        yield connection


@contextmanager
def _pipelined(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, the statements run inside go in ONE pipeline: sent together, one Sync and
    one round trip at the end (each ``executemany`` otherwise opens and syncs a pipeline of its
    own); an error in any of them is raised when the block ends. Elsewhere nothing changes."""
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name != "postgresql" or not hasattr(raw, "pipeline"):
        yield
        return
    with raw.pipeline():
        yield


def _handle(
    projection: Projection, work: Work, fresh: Sequence[Notification], event_of: Callable[[Notification], Any]
) -> None:
    raw = projection.raw
    for n in fresh:
        handler = projection.handler_for(n.topic)
        if handler is not None:
            work.position = n.id
            handler(work, n if raw else event_of(n))


def apply_chunk(
    engine: Engine,
    projection: Projection,
    gen: Generation,
    notifications: Sequence[Notification],
    event_of: Callable[[Notification], Any],
    worker: str,
) -> int:
    """Apply the notifications after ``gen.position`` and move the position, in ONE
    transaction. Returns how many notifications were consumed (0 if none were new)."""
    return apply_chunks(engine, [(projection, gen, notifications)], event_of, worker)[0]


Warm = dict[tuple[str, int], dict[str, RowCache]]
WARM_ROWS = 20_000  # rows a warm cache may keep between chunks before it is dropped


def apply_chunks(
    engine: Engine,
    chunks: Sequence[tuple[Projection, Generation, Sequence[Notification]]],
    event_of: Callable[[Notification], Any],
    worker: str,
    warm: Warm | None = None,
    connection: Connection | None = None,
) -> list[int]:
    """:func:`apply_chunk` for several projections (each with its own generation), in ONE
    transaction: every position moves with its rows, or none does. Returns how many
    notifications each consumed.

    ``warm`` keeps each generation's row caches from one call to the next: the rows a chunk
    read and wrote are still the stored ones at the next chunk, because any other writer
    would have moved the position, and then our conditional position update fails. The
    caller must clear ``warm`` whenever a call raises (its caches may hold rolled-back rows)
    or a generation is written another way.

    ``connection``: the caller's connection to write on (a following runner keeps one from step
    to step: checking one out of the pool costs a ping round trip and as much CPU as a small
    step's position update); by default one from the engine's pool."""
    todo = [(p, g, [n for n in notes if n.id > g.position]) for p, g, notes in chunks]
    if not any(fresh for _, _, fresh in todo):
        return [0] * len(todo)
    with _writing(engine, connection) as conn:
        # The positions first (their row locks order competing writers before anything is read),
        # then every chunk's handlers, then every chunk's rows in one pipeline.
        _move_positions(conn, [(gen, fresh[-1].id) for _, gen, fresh in todo if fresh], worker)
        works: list[Work] = []
        for projection, gen, fresh in todo:
            if fresh:
                caches = warm.setdefault((gen.name, gen.generation), {}) if warm is not None else None
                work = Work(conn, projection.tables(gen.generation), caches=caches)
                _handle(projection, work, fresh, event_of)
                works.append(work)
        with _pipelined(conn):
            for work in works:
                work.flush()
    if warm is not None:
        for caches in warm.values():
            for name in [n for n, c in caches.items() if c.bulk or len(c.rows) > WARM_ROWS]:
                del caches[name]
            for cache in caches.values():
                cache._conn = None
    for _, gen, fresh in todo:
        if fresh:
            gen.position = fresh[-1].id
            gen.worker = worker
    return [len(fresh) for _, _, fresh in todo]


class MemoryBuild:
    """Builds a generation from empty (position 0) entirely in memory, then writes it once.

    A fresh generation has no rows, so nothing needs to be read back: the rows of every chunk
    stay in memory, each row is written once, in bulk, by :meth:`write` (in ONE transaction
    with the position, as :func:`apply_chunk`). Until then the generation's position stays 0
    in ``projection_positions``; an unfinished build is dropped like any unfinished rebuild.
    """

    def __init__(self, projection: Projection, gen: Generation) -> None:
        if gen.position != 0:
            raise ValueError("a memory build starts from an empty generation")
        self.projection = projection
        self.gen = gen
        self.position = 0
        self.work = Work(None, projection.tables(gen.generation), memory=True)

    def state(self) -> dict[str, Any]:
        """What the build holds at :attr:`position` (rows, appended rows, scratch state), for a checkpoint
        (:mod:`registry.reports.builders.checkpoints` pickles it); :meth:`resume` takes it back."""
        return {"position": self.position,
                "work": self.work.memory_state(self.projection, self.projection.derived_scratch)}

    @classmethod
    def resume(cls, projection: Projection, gen: Generation, state: Mapping[str, Any]) -> MemoryBuild:
        """A build of the empty generation ``gen`` that continues from a :meth:`state` (of the same
        projection and version): applying the events after its position gives what a build from empty
        gives (the rows, their order, the scratch state are those the state held)."""
        build = cls(projection, gen)
        build.work = Work.from_memory_state(projection.tables(gen.generation), state["work"], projection)
        build.position = int(state["position"])
        return build

    def apply(self, notifications: Sequence[Notification], event_of: Callable[[Notification], Any]) -> int:
        fresh = [n for n in notifications if n.id > self.position]
        if not fresh:
            return 0
        _handle(self.projection, self.work, fresh, event_of)
        self.position = fresh[-1].id
        return len(fresh)

    def write(self, engine: Engine, worker: str) -> None:
        """Write every row and move the generation's position, in one transaction."""
        if self.position == self.gen.position:
            return
        with writing(engine) as conn:
            _move_position(conn, self.gen, self.position, worker)
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # room for the new tables' index pages while they are filled
                previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                conn.exec_driver_sql(f"PRAGMA cache_size={_BUILD_CACHE_KIB}")
            try:
                self.work.write_all(conn, self.projection.written())
            finally:
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA cache_size={int(previous or -2000)}")
        self.gen.position = self.position
        self.gen.worker = worker


def dump_generation(engine: Engine, projection: Projection, number: int) -> dict[str, list[Row]]:
    """Every row of a generation's tables, sorted by primary key (for comparisons and tests)."""
    out: dict[str, list[Row]] = {}
    with reading(engine) as conn:
        for key, table in projection.tables(number).items():
            order = list(table.primary_key.columns)
            out[key] = [dict(r) for r in conn.execute(select(table).order_by(*order)).mappings()]
    return out
